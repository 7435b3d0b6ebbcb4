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
What a synthetic street is made of: the vocabulary every other room shares.

Plain data (road cross-section, objects, facades, a scene, a rendered pair),
the FMB class ids and the driving conditions, with no geometry or shading:
the silhouettes, the scenario generator and the renderer all build on it.

World frame: X right, Y forward along the road, Z up, metres. The ego
drives along +Y; its visible camera sits ``rig.mount_height`` above the
road, pitched down by ``rig.mount_pitch_deg``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ros2_ssvif.errors import SsvifError


CONDITIONS = ('day', 'night', 'fog', 'glare')
EGO_SPEED = 8.0  # m/s

# class ids of FMB (ros2_ssvif.classes.FMB_CLASSES)
ROAD, SIDEWALK, BUILDING, LIGHT, SIGN, VEGETATION, SKY = 1, 2, 3, 4, 5, 6, 7
PERSON, CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE, POLE = 8, 9, 10, 11, 12, 13, 14

KIND_LABEL = {
    'person': PERSON, 'car': CAR, 'truck': TRUCK, 'bus': BUS, 'bicycle': BICYCLE,
    'tree': VEGETATION, 'bush': VEGETATION, 'pole': POLE, 'street_lamp': POLE,
    'sign': SIGN, 'traffic_light': LIGHT,
}


class SceneError(SsvifError, ValueError):
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
            raise SceneError(
                f'unknown object kind {self.kind!r}; known: {", ".join(sorted(KIND_LABEL))}'
            )
        if not (self.width > 0 and self.height > 0):
            raise SceneError(
                f'{self.kind} needs a positive size, got {self.width} x {self.height} m'
            )


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
    condition: str = 'day'
