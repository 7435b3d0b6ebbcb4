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
Input checking and channel handling shared by every metric family.

One job: turn what callers pass (uint8 or float arrays, HxW or HxWx3) into
float64 planes on 0-255, or fail with a message that says what was wrong.
"""
from __future__ import annotations

import numpy as np


def as_plane(img, name: str = 'image') -> np.ndarray:
    """Return a single 2-D image as float64; raises ValueError/TypeError on bad input."""
    arr = np.asarray(img)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f'{name}: expected a numeric array, got dtype {arr.dtype}')
    if arr.ndim != 2:
        raise ValueError(f'{name}: expected a 2-D (H, W) array, got shape {arr.shape}')
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f'{name}: image must be at least 2x2, got {arr.shape}')
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f'{name}: contains NaN or inf')
    return out


def as_image(img, name: str = 'image') -> np.ndarray:
    """Return an HxW or HxWx3 image as float64 HxWxC (C = 1 or 3)."""
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return as_plane(arr, name)[..., None]
    if arr.ndim == 3 and arr.shape[2] == 3:
        planes = [as_plane(arr[..., k], name) for k in range(3)]
        return np.stack(planes, axis=-1)
    raise ValueError(f'{name}: expected an (H, W) or (H, W, 3) image, got shape {arr.shape}')


def same_size(*named: tuple[str, np.ndarray]) -> None:
    """Raise ValueError unless all images share height and width."""
    shapes = {n: tuple(a.shape[:2]) for n, a in named}
    if len(set(shapes.values())) > 1:
        desc = ', '.join(f'{n} {h}x{w}' for n, (h, w) in shapes.items())
        raise ValueError(f'image sizes differ: {desc}')


def luma(img: np.ndarray) -> np.ndarray:
    """8-bit BT.601 luma of an HxWxC float image (as cv2.COLOR_RGB2GRAY, rounded)."""
    if img.shape[2] == 1:
        return img[..., 0]
    y = 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    return np.clip(np.floor(y + 0.5), 0, 255)


def channel_triples(fused, ir, vis, per_channel: bool):
    """
    (F, IR, VI) plane triples to score: per colour channel or one luma triple.

    With ``per_channel`` and a colour fused image, channel k of F is paired
    with channel k of each source (a grayscale source is replicated).  A
    grayscale F is scored against the sources' luma.
    """
    f = as_image(fused, 'fused')
    a = as_image(ir, 'ir')
    b = as_image(vis, 'visible')
    same_size(('fused', f), ('ir', a), ('visible', b))
    if per_channel and f.shape[2] == 3:
        def ch(x, k):
            return x[..., k] if x.shape[2] == 3 else x[..., 0]
        return [(f[..., k], ch(a, k), ch(b, k)) for k in range(3)]
    return [(luma(f), luma(a), luma(b))]
