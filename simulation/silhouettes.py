# Copyright 2026 ros2_ssvif contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Object silhouettes: which material each point of a billboard shows.

Each function takes local coordinates on the billboard (u: metres right of
the object's centre, v: metres above the road) and returns material ids,
0 = miss; ``SILHOUETTES`` maps an object kind to its function. Shapes are
drawn analytically, so they stay sharp at any distance.
"""
from __future__ import annotations

import math

import numpy as np
from simulation.textures import MAT
from simulation.world import SceneObject


def _ellipse(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 < 1.0


def _seg_dist(u, v, a, b):
    """Distance from points to segment a-b (for thin frames)."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = np.clip(((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(u - ax - t * dx, v - ay - t * dy)


def _person(o: SceneObject, u, v, noise):
    h = o.height
    k = h / 1.75
    m = np.zeros(u.shape, np.uint8)
    sh, hip = 0.80 * h, 0.48 * h
    swing = 0.05 * k * math.sin(o.phase)
    for s in (-1.0, 1.0):
        c = s * 0.085 * k + s * swing * (1.0 - v / hip)
        m[(np.abs(u - c) < 0.068 * k) & (v < hip + 0.02)] = MAT['trousers']
    torso_hw = 0.165 * k + 0.035 * k * (v - hip) / (sh - hip)
    body = ((v >= hip) & (v < sh) & (np.abs(u) < torso_hw)) | _ellipse(
        u, v, 0, sh, 0.2 * k, 0.07 * k
    )
    for s in (-1.0, 1.0):
        c = s * (0.235 * k) - s * swing * 0.6 * (sh - v) / (sh - hip)
        body |= (np.abs(u - c) < 0.045 * k) & (v > 0.47 * h) & (v < sh + 0.02)
        m[_ellipse(u, v, c, 0.45 * h, 0.045 * k, 0.05 * k)] = MAT['skin']
    m[body] = MAT['clothing']
    head = _ellipse(u, v, 0, h - 0.12 * k, 0.095 * k, 0.12 * k)
    neck = (np.abs(u) < 0.05 * k) & (v > sh) & (v < h - 0.15 * k)
    m[head | neck] = MAT['skin']
    return m


def _car(o: SceneObject, u, v, noise):
    w, h = o.width, o.height
    m = np.zeros(u.shape, np.uint8)
    au = np.abs(u)
    top = 0.62 * h
    body = (au < w / 2 - 0.04) & (v > 0.2) & (v < top) | (au < w / 2 - 0.12) & (v > 0.15) & (
        v <= 0.2
    )
    hw = 0.45 * w - 0.1 * w * (v - top) / (h - top)
    cabin = (v >= top) & (v < h) & (au < hw)
    m[body | cabin] = MAT['car_paint']
    glass = (v > top + 0.06) & (v < h - 0.07) & (au < hw - 0.09)
    m[glass] = MAT['car_glass']
    m[(au > w / 2 - 0.34) & (au < w / 2 - 0.06) & (v < 0.36)] = MAT['tyre']
    lamp = (au > w / 2 - 0.32) & (au < w / 2 - 0.08) & (v > 0.40 * h) & (v < 0.50 * h)
    if o.facing > 0:
        m[lamp] = MAT['tail_light']
        m[_ellipse(u, v, 0.3 * w, 0.22, 0.05, 0.04)] = MAT['exhaust']
    else:
        m[lamp] = MAT['headlight']
        m[(au < 0.25 * w) & (v > 0.25 * h) & (v < 0.42 * h)] = MAT['grille']
    return m


def _big_vehicle(o: SceneObject, u, v, noise):
    """Truck (box body) or bus (long windows, rear engine)."""
    w, h = o.width, o.height
    m = np.zeros(u.shape, np.uint8)
    au = np.abs(u)
    bus = o.kind == 'bus'
    floor = 0.35 if bus else 0.95
    m[(au < w / 2) & (v > floor) & (v < h)] = MAT['car_paint']
    if not bus:
        m[(au < w / 2 - 0.25) & (v > 0.5) & (v <= floor)] = MAT['car_paint']
    m[(au > w / 2 - 0.6) & (au < w / 2 - 0.05) & (v < 0.95 if not bus else v < 0.5)] = MAT['tyre']
    if bus or o.facing < 0:
        m[(au < w / 2 - 0.12) & (v > 0.55 * h) & (v < 0.9 * h)] = MAT['car_glass']
    lamp = (au > w / 2 - 0.35) & (au < w / 2 - 0.08) & (v > floor + 0.1) & (v < floor + 0.3)
    m[lamp] = MAT['tail_light'] if o.facing > 0 else MAT['headlight']
    if bus == (o.facing > 0):  # bus engine at the rear, truck engine at the front
        m[(au < 0.35 * w) & (v > floor + 0.05) & (v < floor + 0.5)] = MAT['grille']
    if not bus and o.facing > 0:
        m[_ellipse(u, v, -0.35 * w, 0.6, 0.07, 0.06)] = MAT['exhaust']
    return m


def _bicycle(o: SceneObject, u, v, noise):
    """Side view (parked across the sidewalk in a rack)."""
    m = np.zeros(u.shape, np.uint8)
    r = 0.34
    for cu in (-0.52, 0.52):
        d = np.hypot(u - cu, v - r)
        m[(d < r) & (d > r - 0.045)] = MAT['tyre']
    rear, front, bb, seat, head = (-0.52, r), (0.52, r), (0.0, r), (-0.15, 0.85), (0.38, 0.85)
    frame = np.zeros(u.shape, bool)
    for a, b in (
        (rear, seat),
        (seat, head),
        (head, front),
        (bb, seat),
        (bb, head),
        (rear, bb),
        ((-0.2, 0.92), (-0.05, 0.92)),
        ((0.35, 0.98), (0.45, 0.98)),
        (head, (0.4, 0.98)),
    ):
        frame |= _seg_dist(u, v, a, b) < 0.025
    m[frame] = MAT['bike_frame']
    return m


def _tree(o: SceneObject, u, v, noise):
    w, h = o.width, o.height
    m = np.zeros(u.shape, np.uint8)
    trunk_h = 0.4 * h
    m[(np.abs(u) < 0.05 * w + 0.08) & (v < trunk_h + 0.3)] = MAT['trunk']
    rv = (h - trunk_h) / 2
    rr = (u / (w / 2)) ** 2 + ((v - trunk_h - rv) / rv) ** 2
    n = noise(u * 2.5 + o.x * 7.1, v * 2.5 + o.y * 3.3)
    m[rr < 0.75 + 0.5 * n] = MAT['foliage']
    return m


def _bush(o: SceneObject, u, v, noise):
    m = np.zeros(u.shape, np.uint8)
    rr = (u / (o.width / 2)) ** 2 + (v / o.height) ** 2
    n = noise(u * 4 + o.x * 5.3, v * 4 + o.y * 1.7)
    m[rr < 0.7 + 0.5 * n] = MAT['foliage']
    return m


def _pole(o: SceneObject, u, v, noise):
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < o.width / 2) & (v < o.height)] = MAT['pole_metal']
    return m


def _street_lamp(o: SceneObject, u, v, noise):
    h = o.height
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < 0.08) & (v < h)] = MAT['pole_metal']
    arm = 1.6 * o.facing  # the arm reaches over the road
    lo, hi = min(0.0, arm), max(0.0, arm)
    m[(u > lo) & (u < hi) & (v > h - 0.1) & (v < h)] = MAT['pole_metal']
    m[_ellipse(u, v, arm, h - 0.12, 0.3, 0.1)] = MAT['lamp_head']
    return m


def _sign(o: SceneObject, u, v, noise):
    h = o.height
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < 0.04) & (v < h - 0.5)] = MAT['pole_metal']
    shape = int(o.phase) % 3
    cv_ = h - 0.35
    if shape == 0:
        plate = _ellipse(u, v, 0, cv_, 0.35, 0.35)
    elif shape == 1:  # warning triangle, point up
        plate = (v > cv_ - 0.3) & (v < cv_ + 0.35) & (np.abs(u) < 0.4 * (cv_ + 0.35 - v) / 0.65)
    else:
        plate = (np.abs(u) < 0.3) & (np.abs(v - cv_) < 0.32)
    m[plate] = MAT['sign_plate']
    return m


def _traffic_light(o: SceneObject, u, v, noise):
    h = o.height
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < 0.07) & (v < h - 0.9)] = MAT['pole_metal']
    m[(np.abs(u) < 0.17) & (v >= h - 0.95) & (v < h)] = MAT['light_housing']
    lit = int(o.phase) % 3
    for i in range(3):
        m[_ellipse(u, v, 0, h - 0.2 - 0.275 * i, 0.1, 0.1)] = (
            MAT['lamp_lit'] if i == lit else MAT['lamp_off']
        )
    return m


SILHOUETTES = {
    'person': _person,
    'car': _car,
    'truck': _big_vehicle,
    'bus': _big_vehicle,
    'bicycle': _bicycle,
    'tree': _tree,
    'bush': _bush,
    'pole': _pole,
    'street_lamp': _street_lamp,
    'sign': _sign,
    'traffic_light': _traffic_light,
}
