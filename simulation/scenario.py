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
Streets and traffic as functions of time, and one-off random streets.

``DriveScenario`` and ``random_scene``, so consecutive frames of a drive cohere
and a dataset frame is reproducible from its seed.
"""
from __future__ import annotations

from dataclasses import replace
import math

import numpy as np
from simulation.world import Building, EGO_SPEED, RoadLayout, Scene, SceneError, SceneObject


_CLOTHES = (
    (180, 40, 40),
    (40, 60, 150),
    (230, 230, 225),
    (30, 30, 30),
    (200, 170, 40),
    (60, 120, 60),
    (140, 90, 160),
)
_PAINT = (
    (200, 200, 205),
    (20, 20, 25),
    (150, 20, 25),
    (30, 50, 120),
    (120, 125, 130),
    (230, 230, 230),
    (60, 90, 60),
)
_FACADE = (
    (170, 150, 120),
    (140, 130, 125),
    (190, 180, 160),
    (120, 80, 60),
    (200, 195, 185),
    (100, 105, 115),
)


def _pick(rng, palette):
    return tuple(int(c) for c in palette[int(rng.integers(len(palette)))])


class DriveScenario:
    """
    A street and its traffic, as functions of time, so consecutive frames cohere.

    The static street is generated once for ``length`` metres; pedestrians
    and oncoming vehicles move linearly, the lead car keeps a smoothly varying
    gap ahead of the ego, so nothing teleports between frames.
    """

    def __init__(
        self, seed: int = 0, duration_s: float = 60.0, layout: RoadLayout | None = None
    ) -> None:
        if duration_s <= 0:
            raise SceneError(f'duration_s must be positive, got {duration_s}')
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.layout = layout or RoadLayout()
        rng = np.random.default_rng([self.seed, 1])
        self.length = EGO_SPEED * self.duration_s + 160.0
        self.buildings = self._make_buildings(rng)
        self.static = self._make_static(rng)
        self.walkers = self._make_walkers(rng)
        self.oncoming = self._make_oncoming(rng)
        self.lead = SceneObject(
            'car', 1.75, 0.0, 1.8, 1.5, _pick(rng, _PAINT), float(rng.normal(0, 60)), facing=1
        )
        self.lead_gap = (
            float(rng.uniform(14, 24)),
            float(rng.uniform(2, 5)),
            float(rng.uniform(0.15, 0.4)),
        )

    def _make_buildings(self, rng) -> list[Building]:
        out = []
        for side in (-1, 1):
            y = -30.0
            while y < self.length:
                seg = float(rng.uniform(8, 30))
                out.append(
                    Building(
                        side,
                        y,
                        y + seg,
                        float(rng.uniform(6, 24)),
                        _pick(rng, _FACADE),
                        float(rng.normal(0, 80)),
                        float(rng.uniform(2.2, 3.2)),
                        3.1,
                        int(rng.integers(1 << 30)),
                    )
                )
                y += seg + (float(rng.uniform(4, 12)) if rng.random() < 0.3 else 0.0)
        return out

    def _make_static(self, rng) -> list[SceneObject]:
        L = self.layout
        out: list[SceneObject] = []
        for side in (-1, 1):
            curb = L.road_right if side > 0 else L.road_left
            facade = L.right_facade_x if side > 0 else L.left_facade_x
            y = float(rng.uniform(0, 20))
            while y < self.length:  # street lamps
                out.append(
                    SceneObject('street_lamp', curb + side * 0.5, y, 2 * 1.7, 7.0, facing=-side)
                )
                y += float(rng.uniform(25, 35))
            y = float(rng.uniform(-10, 10))
            while y < self.length:  # trees and bushes along the sidewalk
                if rng.random() < 0.65:
                    out.append(
                        SceneObject(
                            'tree',
                            curb + side * float(rng.uniform(1.0, 1.6)),
                            y,
                            float(rng.uniform(2.5, 4.5)),
                            float(rng.uniform(5, 9)),
                            dtemp=float(rng.normal(0, 60)),
                        )
                    )
                else:
                    out.append(
                        SceneObject(
                            'bush',
                            facade - side * float(rng.uniform(0.6, 1.0)),
                            y,
                            float(rng.uniform(1.2, 2.5)),
                            float(rng.uniform(0.7, 1.3)),
                            dtemp=float(rng.normal(0, 60)),
                        )
                    )
                y += float(rng.uniform(7, 16))
            y = float(rng.uniform(5, 40))
            while y < self.length:  # signs, poles, bike racks
                r = rng.random()
                x = curb + side * 0.4
                if r < 0.4:
                    out.append(
                        SceneObject(
                            'sign',
                            x,
                            y,
                            0.8,
                            float(rng.uniform(2.6, 3.2)),
                            _pick(rng, ((200, 30, 30), (30, 70, 170), (230, 200, 30))),
                            phase=float(rng.integers(3)),
                        )
                    )
                elif r < 0.6:
                    out.append(
                        SceneObject(
                            'pole', x, y, float(rng.uniform(0.1, 0.18)), float(rng.uniform(3, 8))
                        )
                    )
                elif r < 0.8:
                    out.append(
                        SceneObject(
                            'traffic_light',
                            x,
                            y,
                            0.4,
                            float(rng.uniform(4.5, 5.5)),
                            _pick(rng, ((255, 40, 30), (255, 190, 30), (40, 255, 110))),
                            phase=float(rng.integers(3)),
                        )
                    )
                else:
                    out.append(
                        SceneObject(
                            'bicycle', facade - side * 1.8, y, 1.8, 1.0, _pick(rng, _PAINT)
                        )
                    )
                y += float(rng.uniform(12, 35))
        y = float(rng.uniform(5, 15))
        while y < self.length:  # parked cars on the right strip
            if rng.random() < 0.6:
                out.append(
                    SceneObject(
                        'car',
                        L.lane_width + L.parking_width / 2,
                        y,
                        1.8,
                        float(rng.uniform(1.4, 1.7)),
                        _pick(rng, _PAINT),
                        dtemp=float(rng.normal(-300, 80)),
                        facing=1,
                    )
                )
            y += float(rng.uniform(6, 14))
        return out

    def _make_walkers(self, rng) -> list[tuple[SceneObject, float]]:
        L = self.layout
        out = []
        y = float(rng.uniform(0, 8))
        while y < self.length + 20:
            side = 1 if rng.random() < 0.55 else -1
            x = (
                (L.road_right + float(rng.uniform(0.8, 3.0)))
                if side > 0
                else (L.road_left - float(rng.uniform(0.8, 3.0)))
            )
            p = SceneObject(
                'person',
                x,
                y,
                0.7,
                float(rng.uniform(1.55, 1.9)),
                _pick(rng, _CLOTHES),
                dtemp=float(rng.normal(0, 150)),
                phase=float(rng.uniform(0, 6.28)),
            )
            out.append((p, float(rng.choice([-1, 1]) * rng.uniform(1.0, 1.7))))
            y += float(rng.uniform(4, 14))
        return out

    def _make_oncoming(self, rng) -> list[tuple[SceneObject, float]]:
        out = []
        y = float(rng.uniform(20, 60))
        end = self.length + 12.0 * self.duration_s
        while y < end:
            r = rng.random()
            kind, w, h = (
                ('car', 1.8, float(rng.uniform(1.4, 1.7)))
                if r < 0.8
                else (('truck', 2.5, 3.6) if r < 0.9 else ('bus', 2.55, 3.1))
            )
            o = SceneObject(
                kind, -1.75, y, w, h, _pick(rng, _PAINT), float(rng.normal(0, 100)), facing=-1
            )
            out.append((o, -float(rng.uniform(7, 12))))
            y += float(rng.uniform(25, 70))
        return out

    def scene_at(self, t: float, view_range: float = 120.0) -> Scene:
        """Return the street as seen at time ``t`` seconds (ego at ``8 m/s * t``)."""
        if not (0.0 <= t <= self.duration_s):
            raise SceneError(f't={t} s is outside this scenario (0..{self.duration_s} s)')
        ego_y = EGO_SPEED * t
        lo, hi = ego_y + 0.6, ego_y + view_range

        def near(y):
            return lo < y < hi

        objs = [o for o in self.static if near(o.y)]
        for p, vy in self.walkers:
            y = p.y + vy * t
            if near(y):
                objs.append(replace(p, y=y, phase=p.phase + 2.0 * math.pi * 0.9 * t))
        for o, vy in self.oncoming:
            y = o.y + vy * t
            if near(y):
                objs.append(replace(o, y=y))
        g0, ga, gw = self.lead_gap
        objs.append(replace(self.lead, y=ego_y + g0 + ga * math.sin(gw * t)))
        blds = [b for b in self.buildings if b.y1 > ego_y - 5 and b.y0 < hi]
        return Scene(
            objs,
            blds,
            1.75,
            ego_y,
            self.layout,
            seed=hash((self.seed, round(t * 1000))) & 0x7FFFFFFF,
        )


def random_scene(rng: np.random.Generator) -> Scene:
    """
    Return a street at a random place.

    Always with a near pedestrian on each sidewalk and a lead car.
    """
    seed = int(rng.integers(1 << 31))
    sc = DriveScenario(seed, duration_s=10.0).scene_at(float(rng.uniform(0, 10)))
    L = sc.layout
    for side in (1, -1):
        x = (
            (L.road_right + float(rng.uniform(1.0, 2.5)))
            if side > 0
            else (L.road_left - float(rng.uniform(1.0, 2.5)))
        )
        sc.objects.append(
            SceneObject(
                'person',
                x,
                sc.ego_y + float(rng.uniform(7, 16)),
                0.7,
                float(rng.uniform(1.6, 1.9)),
                _pick(rng, _CLOTHES),
                float(rng.normal(0, 100)),
                float(rng.uniform(0, 6.28)),
            )
        )
    sc.seed = seed
    return sc
