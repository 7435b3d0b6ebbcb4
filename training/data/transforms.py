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
Paired crops: one window applied to every modality of a sample.

Why a shared window: visible, thermal (and a label) are pixel-registered;
cropping them independently would break the pairing the fusion loss relies on.

Images are float tensors (C, H, W); labels are int64 (H, W). Images smaller
than the crop are zero-padded at the bottom/right (labels with the ignore
id 255), so every crop has the requested size and batches stack.
Randomness comes from torch's global RNG (or a passed generator): the
trainer seeds it per epoch and the DataLoader seeds each worker, so runs and
resumed runs draw the same crops.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F


__all__ = ['IGNORE_INDEX', 'pad_to', 'crop_window', 'RandomPairCrop', 'CenterPairCrop', 'NoCrop']

IGNORE_INDEX = 255


def pad_to(x: torch.Tensor, h: int, w: int, value: float = 0.0) -> torch.Tensor:
    """Pad the last two dims at bottom/right up to at least (h, w)."""
    ph, pw = max(0, h - x.shape[-2]), max(0, w - x.shape[-1])
    if ph == 0 and pw == 0:
        return x
    if x.dim() == 2:
        return F.pad(x[None], (0, pw, 0, ph), value=value)[0]
    return F.pad(x, (0, pw, 0, ph), value=value)


def _sizes(sample: Mapping) -> tuple[int, int]:
    shapes = {tuple(v.shape[-2:]) for k, v in sample.items() if isinstance(v, torch.Tensor)}
    if len(shapes) != 1:
        raise ValueError(
            f'sample {sample.get("name", "?")!r}: modalities differ in size {sorted(shapes)}'
        )
    return shapes.pop()


def crop_window(sample: dict, top: int, left: int, size: int) -> dict:
    """Pad (see module doc) then cut the same ``size`` x ``size`` window from every tensor."""
    out = dict(sample)
    for k, v in sample.items():
        if not isinstance(v, torch.Tensor):
            continue
        fill = IGNORE_INDEX if v.dtype == torch.long else 0.0
        v = pad_to(v, top + size, left + size, fill)
        out[k] = v[..., top:top + size, left:left + size].contiguous()
    return out


class RandomPairCrop:
    """Uniform random ``size`` crop, same window for all modalities (training)."""

    def __init__(self, size: int, generator: torch.Generator | None = None):
        self.size = int(size)
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        h, w = _sizes(sample)
        top = int(torch.randint(0, max(h - self.size, 0) + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, max(w - self.size, 0) + 1, (1,), generator=self.generator))
        return crop_window(sample, top, left, self.size)


class CenterPairCrop:
    """Deterministic centre crop (validation: same pixels every epoch)."""

    def __init__(self, size: int):
        self.size = int(size)

    def __call__(self, sample: dict) -> dict:
        h, w = _sizes(sample)
        return crop_window(
            sample, max(h - self.size, 0) // 2, max(w - self.size, 0) // 2, self.size
        )


class NoCrop:
    """Full images (validation with ``val_mode: full``; use batch size 1)."""

    def __call__(self, sample: dict) -> dict:
        _sizes(sample)
        return sample
