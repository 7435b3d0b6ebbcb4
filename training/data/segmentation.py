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
Segmenter training samples held in memory: an input image and its label, augmented.

The segmenter learns on the images the node feeds it (a frozen fusion
network's output, or one camera for the comparison rows). Those inputs are
made once per pair (``training.segmenter_inputs``) and kept as uint8, so
an epoch costs the segmenter's steps only, not the fusion network's.

Augmentation, chosen for a camera on a vehicle: random scale (objects at
other distances), random crop, horizontal flip, and a photometric jitter of
brightness, contrast and gamma on the input (exposure and thermal gain
change from drive to drive). People and cars are a few percent of a road
scene's pixels, so a share of the crops (``object_focus``) is centred on a
random pixel of a box-group class (with jitter): each step then sees
objects, not mostly road and sky. Labels follow the geometry (nearest
neighbour) and never the photometry; pixels added by padding are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
from ros2_ssvif.classes import IGNORE_INDEX
import torch
from torch.utils.data import Dataset


__all__ = ['Augment', 'SegmentationSamples']


@dataclass(frozen=True)
class Augment:
    """Augmentation settings; ``Augment(enabled=False)`` gives whole, unchanged images."""

    enabled: bool = True
    crop: int | None = 320             # square crop side after scaling (None: whole image)
    scale: tuple[float, float] = (0.75, 1.5)  # random resize factor range
    flip: bool = True
    brightness: float = 0.25           # multiply by 1 +- this
    contrast: float = 0.25             # stretch around the mean by 1 +- this
    gamma: float = 0.3                 # gamma in [1 - g, 1 + g]
    object_focus: float = 0.0          # share of crops centred on an object pixel


class SegmentationSamples(Dataset):
    """
    ``(name, image uint8 (H,W,C), label uint8 (H,W))`` triples -> augmented training samples.

    Items are dicts ``image`` float (C,h,w) in [0, 1], ``label`` int64 (h,w),
    ``name``. Randomness comes from a numpy generator seeded per item and
    epoch (``set_epoch``), so a run is reproducible with any worker count.
    """

    def __init__(self, items: Sequence[tuple[str, np.ndarray, np.ndarray]],
                 augment: Augment = Augment(), seed: int = 0,
                 object_ids: Sequence[int] = ()):
        for name, img, lab in items:
            if img.shape[:2] != lab.shape[:2] or img.ndim != 3 or img.dtype != np.uint8:
                raise ValueError(f'{name}: image {img.shape} {img.dtype} and label {lab.shape} '
                                 'must be HxWxC uint8 and HxW of the same size')
        self.items = list(items)
        self.augment = augment
        self.object_ids = np.asarray(sorted(object_ids), np.uint8)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        name, img, lab = self.items[i]
        a = self.augment
        if a.enabled:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            img, lab = _geometry(img, lab, a, rng, self.object_ids)
            img = _photometry(img, a, rng)
        else:
            img = img.astype(np.float32) * (1.0 / 255.0)
        return {'image': torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
                'label': torch.from_numpy(lab.astype(np.int64)), 'name': name}


def _geometry(img: np.ndarray, lab: np.ndarray, a: Augment, rng: np.random.Generator,
              object_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = float(rng.uniform(*a.scale))
    if abs(s - 1.0) > 1e-3:
        h, w = lab.shape
        size = (max(1, round(w * s)), max(1, round(h * s)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        lab = cv2.resize(lab, size, interpolation=cv2.INTER_NEAREST)
    if a.crop:
        c = int(a.crop)
        h, w = lab.shape
        if h < c or w < c:
            ph, pw = max(0, c - h), max(0, c - w)
            img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=0)
            lab = cv2.copyMakeBorder(lab, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=IGNORE_INDEX)
            h, w = lab.shape
        y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        if a.object_focus and object_ids.size and rng.random() < a.object_focus:
            ys, xs = np.nonzero(np.isin(lab, object_ids))
            if ys.size:
                k = int(rng.integers(0, ys.size))
                jy, jx = rng.integers(-c // 4, c // 4 + 1, size=2)
                y = int(np.clip(ys[k] - c // 2 + jy, 0, h - c))
                x = int(np.clip(xs[k] - c // 2 + jx, 0, w - c))
        img, lab = img[y:y + c, x:x + c], lab[y:y + c, x:x + c]
    if a.flip and rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    return img, lab


def _photometry(img: np.ndarray, a: Augment, rng: np.random.Generator) -> np.ndarray:
    x = img.astype(np.float32) * (1.0 / 255.0)
    if a.gamma:
        x = np.power(x, np.float32(rng.uniform(1.0 - a.gamma, 1.0 + a.gamma)))
    if a.contrast:
        m = np.float32(x.mean())
        x = (x - m) * np.float32(rng.uniform(1.0 - a.contrast, 1.0 + a.contrast)) + m
    if a.brightness:
        x = x * np.float32(rng.uniform(1.0 - a.brightness, 1.0 + a.brightness))
    return np.clip(x, 0.0, 1.0)
