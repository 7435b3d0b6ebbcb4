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
What the synthetic surfaces look like to each camera.

Colour and temperature come from separate tables on purpose: a painted
lane marking is bright in RGB but has the asphalt's temperature, a person
in the dark is black in RGB but warm in LWIR. The fusion net only learns
something if the two modalities disagree the way real ones do.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


TEX_SIZE = 512  # noise tile side, a power of two so indices wrap with a mask


@dataclass(frozen=True)
class Material:
    """One surface kind; temperatures are raw 14-bit-like counts."""

    name: str
    rgb: tuple[int, int, int]
    rgb_noise: float  # relative albedo variation
    scale: float  # noise cells per metre
    t_day: float
    t_night: float
    t_noise: float  # counts of texture in the thermal image
    label: int = 0  # 0: take the object's label
    tinted: bool = False  # colour comes from the object, not the table
    glow: float = 0.0  # emitted light (lamps, lit windows), 0..1
    shade: float = 1.0  # direct-light factor (vertical faces get less sun)


MATERIALS: tuple[Material, ...] = (
    Material('sky', (0, 0, 0), 0.0, 1, 5200, 4800, 0, 7),
    Material('asphalt', (72, 72, 76), 0.25, 14, 8900, 7900, 60, 1),
    Material('paint', (226, 226, 220), 0.08, 14, 8830, 7865, 45, 1),
    Material('sidewalk', (152, 146, 140), 0.20, 6, 8500, 7650, 55, 2),
    Material('grass', (80, 120, 50), 0.35, 6, 7800, 7350, 90, 6),
    Material('facade', (0, 0, 0), 0.15, 3, 8050, 7750, 70, 3, tinted=True, shade=0.85),
    Material('window', (60, 75, 92), 0.10, 3, 7400, 7350, 40, 3, shade=0.9),
    Material('window_lit', (255, 215, 150), 0.10, 3, 7600, 7700, 40, 3, glow=0.8),
    Material('foliage', (58, 100, 40), 0.50, 5, 7600, 7300, 130, 6, shade=0.9),
    Material('trunk', (90, 65, 45), 0.30, 8, 7800, 7400, 60, 6, shade=0.85),
    Material('pole_metal', (125, 125, 130), 0.10, 8, 7800, 7200, 30, 14, shade=0.9),
    Material('sign_plate', (0, 0, 0), 0.05, 8, 7900, 7300, 30, 5, tinted=True, shade=0.95),
    Material('light_housing', (40, 40, 42), 0.10, 8, 8000, 7500, 30, 4, shade=0.9),
    Material('lamp_lit', (0, 0, 0), 0.02, 8, 8800, 8700, 20, 4, tinted=True, glow=1.0),
    Material('lamp_off', (50, 50, 45), 0.05, 8, 8000, 7500, 20, 4),
    Material('skin', (200, 160, 130), 0.10, 20, 10100, 9900, 150, 8, shade=0.9),
    Material('clothing', (0, 0, 0), 0.20, 20, 9300, 9150, 200, 8, tinted=True, shade=0.9),
    Material('trousers', (50, 52, 70), 0.20, 20, 9150, 9000, 180, 8, shade=0.9),
    Material('car_paint', (0, 0, 0), 0.06, 6, 8200, 7550, 60, tinted=True, shade=0.95),
    Material('car_glass', (32, 40, 52), 0.05, 6, 7300, 7200, 30, shade=0.95),
    Material('tyre', (26, 26, 28), 0.10, 10, 9700, 9400, 80),
    Material('grille', (42, 42, 44), 0.10, 10, 10900, 10600, 200),
    Material('exhaust', (30, 30, 30), 0.05, 10, 12200, 12000, 150),
    Material('tail_light', (210, 25, 20), 0.05, 10, 8700, 8650, 30, glow=0.9),
    Material('headlight', (240, 240, 222), 0.05, 10, 9400, 9350, 30, glow=1.0),
    Material('lamp_head', (232, 230, 205), 0.05, 10, 9000, 9600, 30, 14, glow=1.0),
    Material('bike_frame', (0, 0, 0), 0.05, 10, 7850, 7300, 30, tinted=True, shade=0.9),
)

MAT = {m.name: i for i, m in enumerate(MATERIALS)}


class MaterialTables:
    """The material list as arrays indexed by material id, for vectorised shading."""

    def __init__(self, materials: tuple[Material, ...] = MATERIALS) -> None:
        self.rgb = np.array([m.rgb for m in materials], np.float32)
        self.rgb_noise = np.array([m.rgb_noise for m in materials], np.float32)
        self.scale = np.array([m.scale for m in materials], np.float32)
        self.t_day = np.array([m.t_day for m in materials], np.float32)
        self.t_night = np.array([m.t_night for m in materials], np.float32)
        self.t_noise = np.array([m.t_noise for m in materials], np.float32)
        self.label = np.array([m.label for m in materials], np.uint8)
        self.tinted = np.array([m.tinted for m in materials], bool)
        self.glow = np.array([m.glow for m in materials], np.float32)
        self.shade = np.array([m.shade for m in materials], np.float32)


@lru_cache(maxsize=1)
def noise_tile() -> np.ndarray:
    """
    Return a fixed, tileable-enough multi-octave value-noise tile in [0, 1] (float32).

    Fixed seed: textures must not change between runs or the datasets
    would not be reproducible.
    """
    rng = np.random.default_rng(20231001)
    acc = np.zeros((TEX_SIZE, TEX_SIZE), np.float32)
    for cells, weight in ((8, 0.4), (32, 0.3), (128, 0.2), (TEX_SIZE, 0.1)):
        grid = rng.random((cells, cells)).astype(np.float32)
        acc += weight * cv2.resize(grid, (TEX_SIZE, TEX_SIZE), interpolation=cv2.INTER_CUBIC)
    acc -= acc.min()
    acc /= acc.max()
    return acc


def sample_noise(u: np.ndarray, v: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """Noise at surface coordinates (metres) with ``scale`` cells per metre."""
    tile = noise_tile()
    mask = TEX_SIZE - 1
    iu = (u * scale).astype(np.int64) & mask
    iv = (v * scale).astype(np.int64) & mask
    return tile[iv, iu]
