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
What each camera makes of the light from a synthetic board.

The board renderer gives the fraction of white each raw pixel sees; a
sensor turns it into the frame a driver would publish. Visible: 8-bit RGB
with a little optical blur and read noise. Thermal: raw counts of an
uncooled core (a heated board, so the board's contrast is a temperature
difference), Gaussian optics blur *on the counts* (the lens and the
detector's thermal crosstalk act before read-out), a gradient across the
frame (lens heating), noise (NETD), and either the 16-bit raw counts or the
8-bit output of an automatic gain control. ``polarity`` says which squares
are warm: "inverted" (a heated board, the light, reflective squares are
cold) or "normal".
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


POLARITIES = ('inverted', 'normal')


@dataclass(frozen=True)
class VisibleSensor:
    blur_sigma: float = 0.6  # px
    noise: float = 1.5  # grey levels

    def capture(self, reflectance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        vis = 30 + 200 * reflectance
        vis = cv2.GaussianBlur(vis, (0, 0), self.blur_sigma) + rng.normal(0, self.noise, vis.shape)
        vis = np.clip(vis, 0, 255).astype(np.uint8)
        return np.stack([vis, vis, np.clip(vis.astype(int) + 5, 0, 255).astype(np.uint8)], axis=2)


@dataclass(frozen=True)
class ThermalSensor:
    blur_sigma: float = 1.0  # px, Gaussian, applied to the counts
    noise: float = 12.0  # counts (NETD)
    bits: int = 16  # 16: raw counts; 8: AGC output
    polarity: str = 'inverted'
    base: float = 7000.0  # counts of the cold squares
    contrast: float = 900.0  # counts between warm and cold squares
    gradient: float = 300.0  # counts across the frame, left to right

    def __post_init__(self) -> None:
        if self.bits not in (8, 16):
            raise ValueError(f'thermal bits must be 8 or 16, got {self.bits}')
        if self.polarity not in POLARITIES:
            raise ValueError(f'polarity must be one of {POLARITIES}, got {self.polarity!r}')
        if not self.blur_sigma > 0:
            raise ValueError(f'blur sigma must be positive, got {self.blur_sigma}')

    def capture(self, reflectance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        warm = 1.0 - reflectance if self.polarity == 'inverted' else reflectance
        w = reflectance.shape[1]
        temp = self.base + self.contrast * warm + self.gradient * np.linspace(0, 1, w)[None, :]
        temp = cv2.GaussianBlur(temp.astype(np.float32), (0, 0), self.blur_sigma)
        temp = temp + rng.normal(0, self.noise, temp.shape)
        if self.bits == 16:
            return np.clip(temp, 0, 65535).astype(np.uint16)
        lo, hi = np.percentile(temp, [0.5, 99.5])  # the camera's AGC: a linear stretch
        agc = np.rint((temp - lo) * (255.0 / max(hi - lo, 1e-6)))
        return np.clip(agc, 0, 255).astype(np.uint8)
