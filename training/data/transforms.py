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

Training augmentation before the crop (``data.augment``, off by default;
SegMiF's Sec. 5 "random resizing with a ratio of 0.5-2.0, random cropping
to 360x360, brightness distortion"): :class:`RandomPairScale` resizes
every modality by one factor (images bilinear with antialiasing, labels
nearest), :class:`RandomBrightness` shifts the visible image's brightness
(mmseg's photometric distortion, which SegMiF's code applies to the visible
image: with probability ``p`` one uniform shift in [-delta, delta], clipped
to [0, 1]; ``kornia.enhance.adjust_brightness``). :func:`augmentations`
builds them from the ``data.augment`` mapping.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F


__all__ = ['IGNORE_INDEX', 'AUGMENT_KEYS', 'pad_to', 'crop_window', 'augmentations',
           'RandomPairCrop', 'CenterPairCrop', 'NoCrop', 'PairCompose', 'RandomBrightness',
           'RandomPairScale']

IGNORE_INDEX = 255
AUGMENT_KEYS = ('scale', 'brightness', 'brightness_p')  # the keys of data.augment


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


class RandomPairScale:
    """Resize every tensor of a sample by one factor drawn uniformly from ``[low, high]``."""

    def __init__(self, low: float, high: float, generator: torch.Generator | None = None):
        if not 0 < float(low) <= float(high):
            raise ValueError(f'scale range must satisfy 0 < low <= high, got [{low}, {high}]')
        self.low, self.high = float(low), float(high)
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        h, w = _sizes(sample)
        u = float(torch.rand((), generator=self.generator))
        scale = self.low + (self.high - self.low) * u
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        out = dict(sample)
        for k, v in sample.items():
            if not isinstance(v, torch.Tensor):
                continue
            if v.dtype == torch.long:  # labels: nearest, no new class ids
                out[k] = F.interpolate(v[None, None].float(), size=size,
                                       mode='nearest-exact')[0, 0].long()
            else:
                out[k] = F.interpolate(v[None], size=size, mode='bilinear',
                                       align_corners=False, antialias=True)[0].clamp(0.0, 1.0)
        return out


class RandomBrightness:
    """With probability ``p`` add one uniform shift in [-delta, delta] to ``keys`` (clipped)."""

    def __init__(self, delta: float, p: float = 0.5, keys: tuple[str, ...] = ('visible',),
                 generator: torch.Generator | None = None):
        if not 0 <= float(delta) <= 1 or not 0 <= float(p) <= 1:
            raise ValueError(f'brightness delta and p must be in [0, 1], got {delta}, {p}')
        self.delta, self.p, self.keys = float(delta), float(p), tuple(keys)
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        from kornia.enhance import adjust_brightness

        apply, u = torch.rand(2, generator=self.generator).tolist()
        if apply >= self.p:
            return sample
        shift = self.delta * (2.0 * u - 1.0)
        out = dict(sample)
        for k in self.keys:
            out[k] = adjust_brightness(sample[k], shift, clip_output=True)
        return out


class PairCompose:
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, sample: dict) -> dict:
        for t in self.transforms:
            sample = t(sample)
        return sample


def augmentations(options: Mapping | None) -> list:
    """
    Return the augmentations of a ``data.augment`` mapping, to run before the training crop.

    ``scale: [low, high]`` -> :class:`RandomPairScale`; ``brightness: delta``
    (with ``brightness_p``, default 0.5) -> :class:`RandomBrightness` on the
    visible image. Empty or None: none (the crop alone, as before).
    """
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(AUGMENT_KEYS))
    if unknown:
        raise ValueError(f'unknown augmentation(s) {unknown}; known: {list(AUGMENT_KEYS)}')
    out = []
    if opts.get('scale') is not None:
        low, high = opts['scale']
        out.append(RandomPairScale(low, high))
    if opts.get('brightness'):
        out.append(RandomBrightness(opts['brightness'], opts.get('brightness_p', 0.5)))
    return out
