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
Turn any camera frame into 8-bit grey images a board finder can use.

Thermal frames arrive as 16-bit raw counts with a few hundred useful levels
or as 8-bit AGC output, and a heated board appears inverted; the finders
want 8-bit contrast and (for blobs) a known polarity, so each frame yields
a few candidates: percentile-stretched, CLAHE-equalised, and both inverted.
"""
from __future__ import annotations

import cv2
import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    """Drop colour (RGB order, as ``image_codec`` and ``load_image`` give it)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_RGB2GRAY)
    if img.ndim != 2:
        raise ValueError(f'expected an HxW or HxWx3 image, got shape {img.shape}')
    return img


def stretch(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Percentile stretch to uint8, robust to dead/hot pixels and sky."""
    g = to_gray(image).astype(np.float32)
    lo, hi = np.percentile(g, [low, high])
    if hi - lo < 1e-6:
        return np.zeros(g.shape, np.uint8)
    return np.clip((g - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def clahe(gray8: np.ndarray) -> np.ndarray:
    return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray8)


def candidates(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Named 8-bit versions of ``image`` to try in order, cheapest first."""
    g = to_gray(image)
    base = g if g.dtype == np.uint8 else stretch(g)
    if base is g and (int(g.max()) - int(g.min())) < 128:
        base = stretch(g)
    eq = clahe(base)
    return [('plain', base), ('inverted', 255 - base), ('clahe', eq), ('clahe-inverted', 255 - eq)]
