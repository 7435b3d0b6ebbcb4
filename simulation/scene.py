"""Procedural road scenes rendered through both cameras of the rig by ray casting.

Every pixel of each camera casts its own ray (from ``pixel_rays``, so the
raw distortion is in the image) from that camera's own centre, so the two
images differ by intrinsics, distortion, rotation and real parallax, and a
registration has to earn its result. The world is a ground plane, building
facades on two vertical planes along the road, and vertical "billboard"
silhouettes (people, vehicles, trees, poles, signs, lights) facing the road
axis. A z-buffer keeps the nearest hit.

World frame: X right, Y forward along the road, Z up, metres. The ego
drives along +Y; its visible camera sits ``rig.mount_height`` above the
road, pitched down by ``rig.mount_pitch_deg``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from simulation.rig import PinholeCamera, Rig
from simulation.textures import MAT, MaterialTables, sample_noise

CONDITIONS = ("day", "night", "fog", "glare")
EGO_SPEED = 8.0  # m/s

# class ids of FMB (ros2_ssvif.classes.FMB_CLASSES)
ROAD, SIDEWALK, BUILDING, LIGHT, SIGN, VEGETATION, SKY = 1, 2, 3, 4, 5, 6, 7
PERSON, CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE, POLE = 8, 9, 10, 11, 12, 13, 14

KIND_LABEL = {
    "person": PERSON, "car": CAR, "truck": TRUCK, "bus": BUS, "bicycle": BICYCLE,
    "tree": VEGETATION, "bush": VEGETATION, "pole": POLE, "street_lamp": POLE,
    "sign": SIGN, "traffic_light": LIGHT,
}


class SceneError(ValueError):
    """A scene, a condition or a render request is not valid."""


@dataclass(frozen=True)
class RoadLayout:
    """Cross-section of the street, x in metres (ego lane is 0..lane_width)."""

    lane_width: float = 3.5
    parking_width: float = 2.2  # right-hand parking strip beyond the ego lane
    left_facade_x: float = -7.5
    right_facade_x: float = 9.5

    @property
    def road_left(self) -> float:
        return -self.lane_width

    @property
    def road_right(self) -> float:
        return self.lane_width + self.parking_width


@dataclass
class SceneObject:
    """A vertical silhouette in the plane ``Y = y``, centred at ``x``, standing on the road."""

    kind: str
    x: float
    y: float
    width: float
    height: float
    color: tuple[int, int, int] = (128, 128, 128)
    dtemp: float = 0.0  # per-object temperature offset, counts
    phase: float = 0.0  # walking phase, lamp state or sign shape
    facing: int = 1  # +1: seen from behind (same direction), -1: from the front

    def __post_init__(self) -> None:
        if self.kind not in KIND_LABEL:
            raise SceneError(f"unknown object kind {self.kind!r}; known: {', '.join(sorted(KIND_LABEL))}")
        if not (self.width > 0 and self.height > 0):
            raise SceneError(f"{self.kind} needs a positive size, got {self.width} x {self.height} m")


@dataclass
class Building:
    """A facade segment on the left (side=-1) or right (side=+1) building line."""

    side: int
    y0: float
    y1: float
    height: float
    color: tuple[int, int, int]
    dtemp: float = 0.0
    window_pitch: float = 2.6
    floor_height: float = 3.1
    lit_seed: int = 0


@dataclass
class Scene:
    """Everything one frame needs: the street, its objects and where the ego is."""

    objects: list[SceneObject] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    ego_x: float = 1.75
    ego_y: float = 0.0
    layout: RoadLayout = field(default_factory=RoadLayout)
    seed: int = 0  # drives per-frame sensor noise when render() gets no rng


@dataclass
class RenderedPair:
    """One synchronous capture; every array is in its camera's RAW (distorted) frame."""

    rgb: np.ndarray  # (H,W,3) uint8 RGB, visible camera
    thermal: np.ndarray  # (H,W) uint16 raw counts, thermal camera
    label: np.ndarray  # (H,W) uint8 FMB ids, visible camera
    depth: np.ndarray  # (H,W) float32 z-depth in metres, visible camera, inf = sky
    label_thermal: np.ndarray  # (H,W) uint8 FMB ids, thermal camera
    depth_thermal: np.ndarray  # (H,W) float32, thermal camera
    condition: str = "day"


# ----------------------------------------------------------------------------- silhouettes
# Each takes local coordinates on the billboard (u: metres right of the
# object's centre, v: metres above the road) and returns material ids, 0 = miss.

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
        m[(np.abs(u - c) < 0.068 * k) & (v < hip + 0.02)] = MAT["trousers"]
    torso_hw = 0.165 * k + 0.035 * k * (v - hip) / (sh - hip)
    body = ((v >= hip) & (v < sh) & (np.abs(u) < torso_hw)) | _ellipse(u, v, 0, sh, 0.2 * k, 0.07 * k)
    for s in (-1.0, 1.0):
        c = s * (0.235 * k) - s * swing * 0.6 * (sh - v) / (sh - hip)
        body |= (np.abs(u - c) < 0.045 * k) & (v > 0.47 * h) & (v < sh + 0.02)
        m[_ellipse(u, v, c, 0.45 * h, 0.045 * k, 0.05 * k)] = MAT["skin"]
    m[body] = MAT["clothing"]
    head = _ellipse(u, v, 0, h - 0.12 * k, 0.095 * k, 0.12 * k)
    neck = (np.abs(u) < 0.05 * k) & (v > sh) & (v < h - 0.15 * k)
    m[head | neck] = MAT["skin"]
    return m


def _car(o: SceneObject, u, v, noise):
    w, h = o.width, o.height
    m = np.zeros(u.shape, np.uint8)
    au = np.abs(u)
    top = 0.62 * h
    body = (au < w / 2 - 0.04) & (v > 0.2) & (v < top) | (au < w / 2 - 0.12) & (v > 0.15) & (v <= 0.2)
    hw = 0.45 * w - 0.1 * w * (v - top) / (h - top)
    cabin = (v >= top) & (v < h) & (au < hw)
    m[body | cabin] = MAT["car_paint"]
    glass = (v > top + 0.06) & (v < h - 0.07) & (au < hw - 0.09)
    m[glass] = MAT["car_glass"]
    m[(au > w / 2 - 0.34) & (au < w / 2 - 0.06) & (v < 0.36)] = MAT["tyre"]
    lamp = (au > w / 2 - 0.32) & (au < w / 2 - 0.08) & (v > 0.40 * h) & (v < 0.50 * h)
    if o.facing > 0:
        m[lamp] = MAT["tail_light"]
        m[_ellipse(u, v, 0.3 * w, 0.22, 0.05, 0.04)] = MAT["exhaust"]
    else:
        m[lamp] = MAT["headlight"]
        m[(au < 0.25 * w) & (v > 0.25 * h) & (v < 0.42 * h)] = MAT["grille"]
    return m


def _big_vehicle(o: SceneObject, u, v, noise):
    """Truck (box body) or bus (long windows, rear engine)."""
    w, h = o.width, o.height
    m = np.zeros(u.shape, np.uint8)
    au = np.abs(u)
    bus = o.kind == "bus"
    floor = 0.35 if bus else 0.95
    m[(au < w / 2) & (v > floor) & (v < h)] = MAT["car_paint"]
    if not bus:
        m[(au < w / 2 - 0.25) & (v > 0.5) & (v <= floor)] = MAT["car_paint"]
    m[(au > w / 2 - 0.6) & (au < w / 2 - 0.05) & (v < 0.95 if not bus else v < 0.5)] = MAT["tyre"]
    if bus or o.facing < 0:
        m[(au < w / 2 - 0.12) & (v > 0.55 * h) & (v < 0.9 * h)] = MAT["car_glass"]
    lamp = (au > w / 2 - 0.35) & (au < w / 2 - 0.08) & (v > floor + 0.1) & (v < floor + 0.3)
    m[lamp] = MAT["tail_light"] if o.facing > 0 else MAT["headlight"]
    if bus == (o.facing > 0):  # bus engine at the rear, truck engine at the front
        m[(au < 0.35 * w) & (v > floor + 0.05) & (v < floor + 0.5)] = MAT["grille"]
    if not bus and o.facing > 0:
        m[_ellipse(u, v, -0.35 * w, 0.6, 0.07, 0.06)] = MAT["exhaust"]
    return m


def _bicycle(o: SceneObject, u, v, noise):
    """Side view (parked across the sidewalk in a rack)."""
    m = np.zeros(u.shape, np.uint8)
    r = 0.34
    for cu in (-0.52, 0.52):
        d = np.hypot(u - cu, v - r)
        m[(d < r) & (d > r - 0.045)] = MAT["tyre"]
    rear, front, bb, seat, head = (-0.52, r), (0.52, r), (0.0, r), (-0.15, 0.85), (0.38, 0.85)
    frame = np.zeros(u.shape, bool)
    for a, b in ((rear, seat), (seat, head), (head, front), (bb, seat), (bb, head), (rear, bb), ((-0.2, 0.92), (-0.05, 0.92)),
                 ((0.35, 0.98), (0.45, 0.98)), (head, (0.4, 0.98))):
        frame |= _seg_dist(u, v, a, b) < 0.025
    m[frame] = MAT["bike_frame"]
    return m


def _tree(o: SceneObject, u, v, noise):
    w, h = o.width, o.height
    m = np.zeros(u.shape, np.uint8)
    trunk_h = 0.4 * h
    m[(np.abs(u) < 0.05 * w + 0.08) & (v < trunk_h + 0.3)] = MAT["trunk"]
    rv = (h - trunk_h) / 2
    rr = (u / (w / 2)) ** 2 + ((v - trunk_h - rv) / rv) ** 2
    n = noise(u * 2.5 + o.x * 7.1, v * 2.5 + o.y * 3.3)
    m[rr < 0.75 + 0.5 * n] = MAT["foliage"]
    return m


def _bush(o: SceneObject, u, v, noise):
    m = np.zeros(u.shape, np.uint8)
    rr = (u / (o.width / 2)) ** 2 + (v / o.height) ** 2
    n = noise(u * 4 + o.x * 5.3, v * 4 + o.y * 1.7)
    m[rr < 0.7 + 0.5 * n] = MAT["foliage"]
    return m


def _pole(o: SceneObject, u, v, noise):
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < o.width / 2) & (v < o.height)] = MAT["pole_metal"]
    return m


def _street_lamp(o: SceneObject, u, v, noise):
    h = o.height
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < 0.08) & (v < h)] = MAT["pole_metal"]
    arm = 1.6 * o.facing  # the arm reaches over the road
    lo, hi = min(0.0, arm), max(0.0, arm)
    m[(u > lo) & (u < hi) & (v > h - 0.1) & (v < h)] = MAT["pole_metal"]
    m[_ellipse(u, v, arm, h - 0.12, 0.3, 0.1)] = MAT["lamp_head"]
    return m


def _sign(o: SceneObject, u, v, noise):
    h = o.height
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < 0.04) & (v < h - 0.5)] = MAT["pole_metal"]
    shape = int(o.phase) % 3
    cv_ = h - 0.35
    if shape == 0:
        plate = _ellipse(u, v, 0, cv_, 0.35, 0.35)
    elif shape == 1:  # warning triangle, point up
        plate = (v > cv_ - 0.3) & (v < cv_ + 0.35) & (np.abs(u) < 0.4 * (cv_ + 0.35 - v) / 0.65)
    else:
        plate = (np.abs(u) < 0.3) & (np.abs(v - cv_) < 0.32)
    m[plate] = MAT["sign_plate"]
    return m


def _traffic_light(o: SceneObject, u, v, noise):
    h = o.height
    m = np.zeros(u.shape, np.uint8)
    m[(np.abs(u) < 0.07) & (v < h - 0.9)] = MAT["pole_metal"]
    m[(np.abs(u) < 0.17) & (v >= h - 0.95) & (v < h)] = MAT["light_housing"]
    lit = int(o.phase) % 3
    for i in range(3):
        m[_ellipse(u, v, 0, h - 0.2 - 0.275 * i, 0.1, 0.1)] = MAT["lamp_lit"] if i == lit else MAT["lamp_off"]
    return m


SILHOUETTES = {
    "person": _person, "car": _car, "truck": _big_vehicle, "bus": _big_vehicle, "bicycle": _bicycle,
    "tree": _tree, "bush": _bush, "pole": _pole, "street_lamp": _street_lamp, "sign": _sign,
    "traffic_light": _traffic_light,
}


# ----------------------------------------------------------------------------- scenes
_CLOTHES = ((180, 40, 40), (40, 60, 150), (230, 230, 225), (30, 30, 30), (200, 170, 40), (60, 120, 60), (140, 90, 160))
_PAINT = ((200, 200, 205), (20, 20, 25), (150, 20, 25), (30, 50, 120), (120, 125, 130), (230, 230, 230), (60, 90, 60))
_FACADE = ((170, 150, 120), (140, 130, 125), (190, 180, 160), (120, 80, 60), (200, 195, 185), (100, 105, 115))


def _pick(rng, palette):
    return tuple(int(c) for c in palette[int(rng.integers(len(palette)))])


class DriveScenario:
    """A street and its traffic, as functions of time, so consecutive frames cohere.

    The static street is generated once for ``length`` metres; pedestrians
    and oncoming vehicles move linearly, the lead car keeps a smoothly varying
    gap ahead of the ego, so nothing teleports between frames.
    """

    def __init__(self, seed: int = 0, duration_s: float = 60.0, layout: RoadLayout | None = None) -> None:
        if duration_s <= 0:
            raise SceneError(f"duration_s must be positive, got {duration_s}")
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.layout = layout or RoadLayout()
        rng = np.random.default_rng([self.seed, 1])
        self.length = EGO_SPEED * self.duration_s + 160.0
        self.buildings = self._make_buildings(rng)
        self.static = self._make_static(rng)
        self.walkers = self._make_walkers(rng)
        self.oncoming = self._make_oncoming(rng)
        self.lead = SceneObject("car", 1.75, 0.0, 1.8, 1.5, _pick(rng, _PAINT), float(rng.normal(0, 60)), facing=1)
        self.lead_gap = (float(rng.uniform(14, 24)), float(rng.uniform(2, 5)), float(rng.uniform(0.15, 0.4)))

    def _make_buildings(self, rng) -> list[Building]:
        out = []
        for side in (-1, 1):
            y = -30.0
            while y < self.length:
                seg = float(rng.uniform(8, 30))
                out.append(Building(side, y, y + seg, float(rng.uniform(6, 24)), _pick(rng, _FACADE),
                                    float(rng.normal(0, 80)), float(rng.uniform(2.2, 3.2)), 3.1,
                                    int(rng.integers(1 << 30))))
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
                out.append(SceneObject("street_lamp", curb + side * 0.5, y, 2 * 1.7, 7.0, facing=-side))
                y += float(rng.uniform(25, 35))
            y = float(rng.uniform(-10, 10))
            while y < self.length:  # trees and bushes along the sidewalk
                if rng.random() < 0.65:
                    out.append(SceneObject("tree", curb + side * float(rng.uniform(1.0, 1.6)), y, float(rng.uniform(2.5, 4.5)),
                                           float(rng.uniform(5, 9)), dtemp=float(rng.normal(0, 60))))
                else:
                    out.append(SceneObject("bush", facade - side * float(rng.uniform(0.6, 1.0)), y, float(rng.uniform(1.2, 2.5)),
                                           float(rng.uniform(0.7, 1.3)), dtemp=float(rng.normal(0, 60))))
                y += float(rng.uniform(7, 16))
            y = float(rng.uniform(5, 40))
            while y < self.length:  # signs, poles, bike racks
                r = rng.random()
                x = curb + side * 0.4
                if r < 0.4:
                    out.append(SceneObject("sign", x, y, 0.8, float(rng.uniform(2.6, 3.2)), _pick(rng, ((200, 30, 30), (30, 70, 170), (230, 200, 30))),
                                           phase=float(rng.integers(3))))
                elif r < 0.6:
                    out.append(SceneObject("pole", x, y, float(rng.uniform(0.1, 0.18)), float(rng.uniform(3, 8))))
                elif r < 0.8:
                    out.append(SceneObject("traffic_light", x, y, 0.4, float(rng.uniform(4.5, 5.5)), _pick(rng, ((255, 40, 30), (255, 190, 30), (40, 255, 110))),
                                           phase=float(rng.integers(3))))
                else:
                    out.append(SceneObject("bicycle", facade - side * 1.8, y, 1.8, 1.0, _pick(rng, _PAINT)))
                y += float(rng.uniform(12, 35))
        y = float(rng.uniform(5, 15))
        while y < self.length:  # parked cars on the right strip
            if rng.random() < 0.6:
                out.append(SceneObject("car", L.lane_width + L.parking_width / 2, y, 1.8, float(rng.uniform(1.4, 1.7)), _pick(rng, _PAINT),
                                       dtemp=float(rng.normal(-300, 80)), facing=1))
            y += float(rng.uniform(6, 14))
        return out

    def _make_walkers(self, rng) -> list[tuple[SceneObject, float]]:
        L = self.layout
        out = []
        y = float(rng.uniform(0, 8))
        while y < self.length + 20:
            side = 1 if rng.random() < 0.55 else -1
            x = (L.road_right + float(rng.uniform(0.8, 3.0))) if side > 0 else (L.road_left - float(rng.uniform(0.8, 3.0)))
            p = SceneObject("person", x, y, 0.7, float(rng.uniform(1.55, 1.9)), _pick(rng, _CLOTHES),
                            dtemp=float(rng.normal(0, 150)), phase=float(rng.uniform(0, 6.28)))
            out.append((p, float(rng.choice([-1, 1]) * rng.uniform(1.0, 1.7))))
            y += float(rng.uniform(4, 14))
        return out

    def _make_oncoming(self, rng) -> list[tuple[SceneObject, float]]:
        out = []
        y = float(rng.uniform(20, 60))
        end = self.length + 12.0 * self.duration_s
        while y < end:
            r = rng.random()
            kind, w, h = ("car", 1.8, float(rng.uniform(1.4, 1.7))) if r < 0.8 else (("truck", 2.5, 3.6) if r < 0.9 else ("bus", 2.55, 3.1))
            o = SceneObject(kind, -1.75, y, w, h, _pick(rng, _PAINT), float(rng.normal(0, 100)), facing=-1)
            out.append((o, -float(rng.uniform(7, 12))))
            y += float(rng.uniform(25, 70))
        return out

    def scene_at(self, t: float, view_range: float = 120.0) -> Scene:
        """The street as seen at time ``t`` seconds (ego at ``8 m/s * t``)."""
        if not (0.0 <= t <= self.duration_s):
            raise SceneError(f"t={t} s is outside this scenario (0..{self.duration_s} s)")
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
        return Scene(objs, blds, 1.75, ego_y, self.layout, seed=hash((self.seed, round(t * 1000))) & 0x7FFFFFFF)


def random_scene(rng: np.random.Generator) -> Scene:
    """A street at a random place, always with a near pedestrian on each sidewalk and a lead car."""
    seed = int(rng.integers(1 << 31))
    sc = DriveScenario(seed, duration_s=10.0).scene_at(float(rng.uniform(0, 10)))
    L = sc.layout
    for side in (1, -1):
        x = (L.road_right + float(rng.uniform(1.0, 2.5))) if side > 0 else (L.road_left - float(rng.uniform(1.0, 2.5)))
        sc.objects.append(SceneObject("person", x, sc.ego_y + float(rng.uniform(7, 16)), 0.7, float(rng.uniform(1.6, 1.9)),
                                      _pick(rng, _CLOTHES), float(rng.normal(0, 100)), float(rng.uniform(0, 6.28))))
    sc.seed = seed
    return sc


# ----------------------------------------------------------------------------- rendering
@dataclass
class _CameraRays:
    """One camera's rays in the ego frame (X right, Y forward, Z up) and its centre."""

    cam: PinholeCamera
    R_ego_cam: np.ndarray
    origin: np.ndarray  # camera centre, ego frame (z above the road)
    dx: np.ndarray
    dy: np.ndarray
    dz: np.ndarray
    elev: np.ndarray  # sine of the ray's elevation (sky gradient)
    ground_s: np.ndarray  # depth to the road plane, inf where the ray misses it
    ground_x: np.ndarray  # hit point relative to the ego, metres
    ground_y: np.ndarray


@dataclass
class _Buffers:
    depth: np.ndarray
    mat: np.ndarray
    label: np.ndarray
    obj: np.ndarray  # index into the colour/temperature tables of the frame
    tu: np.ndarray
    tv: np.ndarray


def _pitch_rotation(pitch_deg: float) -> np.ndarray:
    """Camera (x right, y down, z forward) -> ego (X right, Y forward, Z up), pitched down."""
    p = math.radians(pitch_deg)
    c, s = math.cos(p), math.sin(p)
    return np.array([[1.0, 0.0, 0.0], [0.0, -s, c], [0.0, -c, -s]])


class SceneRenderer:
    """Ray-casts scenes into the rig's two cameras; rays are computed once per rig."""

    GROUND_MAX = 1500.0  # metres; beyond this the road plane counts as the horizon

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        R_vis = _pitch_rotation(rig.mount_pitch_deg)
        c_vis = np.array([0.0, 0.0, float(rig.mount_height)])
        R_th = R_vis @ np.asarray(rig.R, float).T
        c_th = c_vis + R_vis @ (-np.asarray(rig.R, float).T @ np.asarray(rig.t, float))
        self.visible = self._rays(rig.visible, R_vis, c_vis)
        self.thermal = self._rays(rig.thermal, R_th, c_th)
        self.tables = MaterialTables()
        fpn_rng = np.random.default_rng(77)  # the thermal core's fixed column pattern
        self._column_fpn = fpn_rng.normal(0.0, 8.0, rig.thermal.width).astype(np.float32)
        self._ground_cache: dict = {}
        self._facade_cache: dict = {}
        self._vignette = {id(cr): self._radial(cr) for cr in (self.visible, self.thermal)}
        a = np.clip(self.visible.elev / 0.35, 0.0, 1.0)[..., None]
        sky = (1 - a) * np.array([205, 218, 232], np.float32) + a * np.array([85, 135, 200], np.float32)
        self._sky_day = [np.ascontiguousarray(sky[..., c], np.float32) for c in range(3)]
        self._sky_thermal = 2000.0 * np.exp(-np.maximum(self.thermal.elev, 0) / 0.1).astype(np.float32)

    @staticmethod
    def _radial(cr: _CameraRays) -> np.ndarray:
        """Squared normalised distance from the image centre (vignetting)."""
        H, W = cr.dx.shape
        vv, uu = np.mgrid[0:H, 0:W].astype(np.float32)
        return ((uu - W / 2) / (W / 2)) ** 2 + ((vv - H / 2) / (H / 2)) ** 2

    @staticmethod
    def _rays(cam: PinholeCamera, R: np.ndarray, origin: np.ndarray) -> _CameraRays:
        d = cam.pixel_rays() @ R.T  # (H,W,3), scale keeps camera z-depth = 1
        dx, dy, dz = (np.ascontiguousarray(d[..., i], dtype=np.float32) for i in range(3))
        elev = (dz / np.sqrt(dx * dx + dy * dy + dz * dz)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(dz < 0, -origin[2] / dz, np.inf).astype(np.float32)
        s[s > SceneRenderer.GROUND_MAX] = np.inf
        fin = np.isfinite(s)
        gx = np.where(fin, origin[0] + s * dx, 0).astype(np.float32)
        gy = np.where(fin, origin[1] + s * dy, 0).astype(np.float32)
        return _CameraRays(cam, R, origin, dx, dy, dz, elev, s, gx, gy)

    # -- geometry helpers the tests and tools use
    def world_to_camera(self, scene: Scene, points_world: np.ndarray, camera: str = "visible") -> np.ndarray:
        """World points (N,3) -> that camera's optical frame (N,3)."""
        cr = self._camera(camera)
        p = np.asarray(points_world, float).reshape(-1, 3) - np.array([scene.ego_x, scene.ego_y, 0.0])
        return (p - cr.origin) @ cr.R_ego_cam

    def _camera(self, camera: str) -> _CameraRays:
        if camera not in ("visible", "thermal"):
            raise SceneError(f"camera must be 'visible' or 'thermal', got {camera!r}")
        return self.visible if camera == "visible" else self.thermal

    # -- casting
    def _ground(self, cr: _CameraRays, L: RoadLayout, ex: float):
        """Road-plane materials that do not depend on the ego's distance along the road (cached)."""
        key = (id(cr), L, ex)
        hit = self._ground_cache.get(key)
        if hit is not None:
            return hit
        fin = np.isfinite(cr.ground_s)
        gx = cr.ground_x + np.float32(ex)
        mat = np.zeros(gx.shape, np.uint8)
        mat[fin] = MAT["grass"]
        mat[fin & (gx > L.left_facade_x) & (gx < L.right_facade_x)] = MAT["sidewalk"]
        road = fin & (gx >= L.road_left) & (gx <= L.road_right)
        mat[road] = MAT["asphalt"]
        edges = (np.abs(gx - (L.lane_width - 0.1)) < 0.07) | (np.abs(gx - (L.road_left + 0.2)) < 0.07)
        mat[road & edges] = MAT["paint"]
        dash_idx = np.flatnonzero(road & (np.abs(gx) < 0.08))
        self._ground_cache[key] = (mat, gx, dash_idx)
        return mat, gx, dash_idx

    def _facade_plane(self, cr: _CameraRays, xrel: float):
        """Pixels whose ray meets the plane ``X = xrel`` (ego frame) ahead: flat indices, depth, y, z (cached)."""
        key = (id(cr), xrel)
        hit = self._facade_cache.get(key)
        if hit is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (np.float32(xrel) - np.float32(cr.origin[0])) / cr.dx
            idx = np.flatnonzero((s > 0) & (s < self.GROUND_MAX) & (np.float32(cr.origin[2]) + s * cr.dz >= 0))
            sf = s.ravel()[idx]
            hit = (idx, sf, np.float32(cr.origin[1]) + sf * cr.dy.ravel()[idx], np.float32(cr.origin[2]) + sf * cr.dz.ravel()[idx])
            self._facade_cache[key] = hit
        return hit

    def _cast(self, scene: Scene, cr: _CameraRays, obj_label: np.ndarray) -> _Buffers:
        H, W = cr.dx.shape
        L = scene.layout
        ex, ey = scene.ego_x, scene.ego_y
        depth = cr.ground_s.copy()
        gmat, gx, dash_idx = self._ground(cr, L, ex)
        mat = gmat.copy()
        gy = cr.ground_y + np.float32(ey)
        dash = dash_idx[np.mod(gy.ravel()[dash_idx], 9.0) < 3.0]
        mat.ravel()[dash] = MAT["paint"]
        obj = np.full((H, W), len(scene.objects) + len(scene.buildings), np.int32)  # sentinel: no object
        tu, tv = gx.copy(), gy

        n_static = len(scene.objects)
        for side, xp in ((-1, L.left_facade_x), (1, L.right_facade_x)):
            idx = [i for i, b in enumerate(scene.buildings) if b.side == side]
            if not idx:
                continue
            blds = [scene.buildings[i] for i in idx]
            order = np.argsort([b.y0 for b in blds])
            y0 = np.array([blds[j].y0 for j in order], np.float32)
            y1 = np.array([blds[j].y1 for j in order], np.float32)
            hgt = np.array([blds[j].height for j in order], np.float32)
            pitch_all = np.array([blds[j].window_pitch for j in order], np.float32)
            gid = np.array([n_static + idx[j] for j in order], np.int32)
            pix, s, fy_rel, zz = self._facade_plane(cr, float(xp - ex))
            yy = fy_rel + np.float32(ey)
            k = np.clip(np.searchsorted(y0, yy, side="right") - 1, 0, len(y0) - 1)
            ok = (s < depth.ravel()[pix]) & (yy >= y0[k]) & (yy < y1[k]) & (zz < hgt[k])
            if not ok.any():
                continue
            pix, s, yy, zz, k = pix[ok], s[ok], yy[ok], zz[ok], k[ok]
            depth.ravel()[pix] = s
            pitch = pitch_all[k]
            wy = np.mod(yy - y0[k], pitch) / pitch
            wz = np.mod(zz, 3.1) / 3.1
            win = (wy > 0.25) & (wy < 0.75) & (wz > 0.3) & (wz < 0.8) & (zz > 2.5) & (zz < hgt[k] - 0.8)
            cell = (np.floor((yy - y0[k]) / pitch) * 7 + np.floor(zz / 3.1) * 13 + gid[k] * 3).astype(np.int64)
            lit = (cell * 2654435761 % 1000) < 350
            m = np.full(k.shape, MAT["facade"], np.uint8)
            m[win] = MAT["window"]
            m[win & lit] = MAT["window_lit"]
            mat.ravel()[pix] = m
            obj.ravel()[pix] = gid[k]
            tu.ravel()[pix] = yy
            tv.ravel()[pix] = zz

        label = self.tables.label[mat]
        tu = np.ascontiguousarray(tu, np.float32)
        tv = np.ascontiguousarray(tv, np.float32)

        def noise(a, b):
            return sample_noise(a, b, 1.0)

        boxes = self._bboxes(cr, scene.objects, ex, ey)
        for i, (o, box) in enumerate(zip(scene.objects, boxes)):
            if box is None:
                continue
            yr = o.y - ey - cr.origin[1]
            r0, r1, c0, c1 = box
            dy = cr.dy[r0:r1, c0:c1]
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.float32(yr) / dy
            u = np.float32(cr.origin[0] + ex - o.x) + s * cr.dx[r0:r1, c0:c1]
            v = np.float32(cr.origin[2]) + s * cr.dz[r0:r1, c0:c1]
            m = SILHOUETTES[o.kind](o, u, v, noise)
            ok = (m > 0) & (dy > 0) & (s < depth[r0:r1, c0:c1])
            if not ok.any():
                continue
            depth[r0:r1, c0:c1][ok] = s[ok]
            mat[r0:r1, c0:c1][ok] = m[ok]
            ml = self.tables.label[m[ok]]
            label[r0:r1, c0:c1][ok] = np.where(ml > 0, ml, obj_label[i])
            obj[r0:r1, c0:c1][ok] = i
            tu[r0:r1, c0:c1][ok] = u[ok] + np.float32(o.x * 3.7 + i * 11.3)
            tv[r0:r1, c0:c1][ok] = v[ok]
        sky = ~np.isfinite(depth)
        mat[sky] = MAT["sky"]
        label[sky] = SKY
        return _Buffers(depth.astype(np.float32), mat, label, obj, tu, tv)

    @staticmethod
    def _bboxes(cr: _CameraRays, objects: list[SceneObject], ex: float, ey: float) -> list:
        """Pixel box around each object's rectangle, None when out of view.

        Edges are sampled, not just corners, because distortion bows them.
        """
        H, W = cr.dx.shape
        out: list = [None] * len(objects)
        ahead = [i for i, o in enumerate(objects) if o.y - ey - cr.origin[1] >= 0.3]
        if not ahead:
            return out
        t = np.linspace(0.0, 1.0, 7)
        ux = np.concatenate([-1 + 2 * t, np.ones(7), 1 - 2 * t, -np.ones(7)])
        vz = np.concatenate([np.zeros(7), t, np.ones(7), 1 - t])
        half = np.array([objects[i].width / 2 + (1.7 if objects[i].kind == "street_lamp" else 0.0) for i in ahead])
        hgt = np.array([objects[i].height for i in ahead])
        ox = np.array([objects[i].x - ex for i in ahead])
        oy = np.array([objects[i].y - ey for i in ahead])
        pts = np.stack([ox[:, None] + half[:, None] * ux, np.repeat(oy[:, None], 28, 1), hgt[:, None] * vz], axis=2)
        pc = (pts.reshape(-1, 3) - cr.origin) @ cr.R_ego_cam
        px = cr.cam.project(np.where(pc[:, 2:] < 0.05, np.array([0.0, 0.0, 1.0]), pc)).reshape(len(ahead), 28, 2)
        behind = (pc[:, 2] < 0.05).reshape(len(ahead), 28).any(axis=1)
        lo = np.floor(px.min(axis=1)).astype(int) - 3
        hi = np.ceil(px.max(axis=1)).astype(int) + 4
        for j, i in enumerate(ahead):
            c0, r0, c1, r1 = (0, 0, W, H) if behind[j] else (lo[j, 0], lo[j, 1], hi[j, 0], hi[j, 1])
            r0, r1, c0, c1 = max(r0, 0), min(r1, H), max(c0, 0), min(c1, W)
            if r0 < r1 and c0 < c1:
                out[i] = (r0, r1, c0, c1)
        return out

    # -- shading
    def _object_tables(self, scene: Scene):
        n_obj = len(scene.objects)
        colors = [o.color for o in scene.objects] + [b.color for b in scene.buildings]
        dts = [o.dtemp for o in scene.objects] + [b.dtemp for b in scene.buildings]
        rgb = np.array(colors + [(0, 0, 0)], np.float32).reshape(-1, 3)
        dt = np.array(dts + [0.0], np.float32)
        lab = np.array([KIND_LABEL[o.kind] for o in scene.objects] + [0], np.uint8)
        return rgb, dt, lab, n_obj

    def _shade_visible(self, scene, cr, b: _Buffers, obj_rgb, condition, rng) -> np.ndarray:
        """Colour per pixel, worked on as three planes (1-D gathers are far faster than (H,W,3) ones)."""
        T = self.tables
        n_mat = len(T.rgb)
        colour_id = np.where(T.tinted[b.mat], b.obj + n_mat, b.mat)
        palette = np.concatenate([T.rgb, obj_rgb], axis=0)
        n = sample_noise(b.tu, b.tv, T.scale[b.mat])
        gain = 1.0 + T.rgb_noise[b.mat] * (n - np.float32(0.5)) * np.float32(2.0)
        sky = b.mat == MAT["sky"]
        night = condition == "night"
        if night:
            gain *= self._night_light(scene, cr, b)
            glow = T.glow[b.mat]
        else:
            gain *= T.shade[b.mat]
        fog = np.exp(np.float32(-0.065) * b.depth) if condition == "fog" else None  # inf depth: all fog
        vig = 1.0 - np.float32(0.12) * self._vignette[id(cr)]
        planes = []
        for c in range(3):
            base = np.take(palette[:, c], colour_id)
            p = base * gain
            if night:
                np.maximum(p, base * glow, out=p)
                p[sky] = (8.0, 10.0, 22.0)[c]
            else:
                np.copyto(p, self._sky_day[c], where=sky)
            if fog is not None:
                p = p * fog + np.float32(200.0) * (1 - fog)
            planes.append(p)
        if condition == "glare":
            planes = self._glare(planes, rng, vig.shape)
        rgb = cv2.merge([p * vig for p in planes])
        rgb = cv2.GaussianBlur(rgb, (0, 0), 0.6)
        noise = np.empty_like(rgb)
        cv2.setRNGSeed(int(rng.integers(1 << 31)))  # cv2's generator is much faster than numpy's here
        cv2.randn(noise, 0.0, 1.0)
        if night:  # read noise plus shot noise that grows with the signal
            rgb += noise * (np.float32(6.0) + np.sqrt(np.maximum(rgb, 0) * np.float32(0.5)))
        else:
            rgb += noise * np.float32(1.5)
        return np.clip(rgb, 0, 255).astype(np.uint8)

    def _night_light(self, scene, cr, b: _Buffers) -> np.ndarray:
        """Ambient starlight + street lamp pools + the ego's low beams."""
        fin = np.isfinite(b.depth)
        s = np.where(fin, b.depth, 0).astype(np.float32)
        wx = np.float32(cr.origin[0] + scene.ego_x) + s * cr.dx
        wy = np.float32(cr.origin[1] + scene.ego_y) + s * cr.dy
        wz = np.float32(cr.origin[2]) + s * cr.dz
        light = np.full(s.shape, 0.035, np.float32)
        for o in scene.objects:
            if o.kind == "street_lamp" and o.y - scene.ego_y < 90:
                lx = o.x + 1.6 * o.facing
                light += 1.1 * np.exp(-((wx - lx) ** 2 + (wy - o.y) ** 2) / (2 * 4.5 ** 2)) * (wz < o.height)
        fwd = wy - np.float32(scene.ego_y)
        beam = np.exp(-(((wx - np.float32(scene.ego_x)) / (1.2 + 0.18 * fwd)) ** 2)) / (1.0 + (fwd / 16.0) ** 2)
        light += 1.3 * beam * (fwd > 2.0) * (wz < 1.6)
        return light * fin

    @staticmethod
    def _glare(rgb: list, rng, shape) -> list:
        """Low sun near the top edge: a bloom, a streak and a veil washing out the image."""
        H, W = shape
        su, sv = float(rng.uniform(0.2 * W, 0.8 * W)), float(rng.uniform(-0.05 * H, 0.25 * H))
        du2 = ((np.arange(W, dtype=np.float32) - su) ** 2)[None, :]
        dv2 = ((np.arange(H, dtype=np.float32) - sv) ** 2)[:, None]
        r2 = du2 + dv2
        bloom = 255.0 * (np.exp(-r2 / (2 * 70.0 ** 2)) + 0.6 * np.exp(-r2 / (2 * 230.0 ** 2)))
        bloom += 160.0 * np.exp(-dv2 / (2 * 7.0 ** 2)) * np.exp(-np.sqrt(du2) / 260.0) + 45.0
        keep = 1.0 - 0.5 * np.clip(bloom / 255.0, 0, 1)
        return [p * keep + bloom * tint for p, tint in zip(rgb, (1.0, 0.97, 0.9))]

    def _shade_thermal(self, scene, cr, b: _Buffers, obj_dt, condition, rng) -> np.ndarray:
        T = self.tables
        night = condition == "night"
        n = sample_noise(b.tu, b.tv, T.scale[b.mat])
        temp = (T.t_night if night else T.t_day)[b.mat] + T.t_noise[b.mat] * (n - np.float32(0.5)) * np.float32(2.0)
        temp += obj_dt[b.obj]
        sky_t = np.float32(4800.0 if night else 5200.0) + self._sky_thermal
        temp = np.where(b.mat == MAT["sky"], sky_t, temp)
        if condition == "fog":  # LWIR sees through fog far better than visible light
            tr = np.exp(np.float32(-0.004) * b.depth)
            temp = temp * tr + np.float32(7700.0) * (1 - tr)
        temp = cv2.GaussianBlur(temp.astype(np.float32), (0, 0), 0.8)
        temp += np.float32(-180.0) * self._vignette[id(cr)] + self._column_fpn[None, :]
        noise = np.empty_like(temp)
        cv2.setRNGSeed(int(rng.integers(1 << 31)))
        cv2.randn(noise, 0.0, 18.0)  # NETD
        temp += noise
        return np.clip(np.rint(temp), 0, 16383).astype(np.uint16)

    def _prepare(self, scene: Scene, condition: str, rng):
        if condition not in CONDITIONS:
            raise SceneError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}")
        if not isinstance(scene, Scene):
            raise SceneError(f"render() needs a Scene, got {type(scene).__name__}")
        if rng is None:
            rng = np.random.default_rng([scene.seed, CONDITIONS.index(condition)])
        return self._object_tables(scene), rng

    def render_visible(self, scene: Scene, condition: str = "day", rng: np.random.Generator | None = None):
        """Visible camera only: (rgb, label, depth). Drives need it at the RGB camera's own instants."""
        (obj_rgb, _, obj_lab, _), rng = self._prepare(scene, condition, rng)
        b = self._cast(scene, self.visible, obj_lab)
        return self._shade_visible(scene, self.visible, b, obj_rgb, condition, rng), b.label, b.depth

    def render_thermal(self, scene: Scene, condition: str = "day", rng: np.random.Generator | None = None):
        """Thermal camera only: (counts, label, depth)."""
        (_, obj_dt, obj_lab, _), rng = self._prepare(scene, condition, rng)
        b = self._cast(scene, self.thermal, obj_lab)
        return self._shade_thermal(scene, self.thermal, b, obj_dt, condition, rng), b.label, b.depth

    def render(self, scene: Scene, condition: str = "day", rng: np.random.Generator | None = None) -> RenderedPair:
        """Both images of ``scene`` at the same instant under ``condition`` (one of CONDITIONS)."""
        (obj_rgb, obj_dt, obj_lab, _), rng = self._prepare(scene, condition, rng)
        bv = self._cast(scene, self.visible, obj_lab)
        bt = self._cast(scene, self.thermal, obj_lab)
        rgb = self._shade_visible(scene, self.visible, bv, obj_rgb, condition, rng)
        thermal = self._shade_thermal(scene, self.thermal, bt, obj_dt, condition, rng)
        return RenderedPair(rgb, thermal, bv.label, bv.depth, bt.label, bt.depth, condition)
