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
What every offline teacher returns, and the steps they share.

Why: pseudo-label code should not care which Cityscapes network made a
label. A teacher turns an RGB frame into FMB ids, a per-pixel confidence and
its raw Cityscapes ids (``TeacherOutput``); the class merge and the choice of
label and confidence from probabilities live here, once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from ros2_ssvif.classes import FMB_CLASSES, IGNORE_INDEX

from .cityscapes import cityscapes_to_fmb_probs


CONFIDENCE_KINDS = ('prob', 'margin')


@dataclass(frozen=True)
class TeacherOutput:
    """
    One frame's pseudo-label, all arrays at the input frame's (H, W).

    ``fmb_ids``: uint8 FMB class ids, 255 (``IGNORE_INDEX``) where the
    teacher's most likely answer has no FMB class (train, ESPNetv2's
    background). ``confidence``: float32 in [0, 1] for that answer.
    ``cityscapes_ids``: uint8 raw argmax of the teacher (train ids 0..18;
    19 = ESPNetv2's background).
    """

    fmb_ids: np.ndarray
    confidence: np.ndarray
    cityscapes_ids: np.ndarray


@runtime_checkable
class Teacher(Protocol):
    """A Cityscapes segmenter used to make FMB pseudo-labels offline."""

    name: str

    def predict(self, rgb: np.ndarray) -> TeacherOutput:
        """Pseudo-label one uint8 RGB frame (H, W, 3)."""
        ...


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Return ``rgb`` as an array after checking it is uint8 (H, W, 3)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected uint8 RGB (H, W, 3), got {rgb.dtype} {rgb.shape}')
    return rgb


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax, float32."""
    z = np.array(logits, dtype=np.float32, copy=True)
    z -= z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def resize_nearest(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map to (h, w)."""
    if img.shape[:2] == tuple(hw):
        return img
    return cv2.resize(img, (int(hw[1]), int(hw[0])), interpolation=cv2.INTER_NEAREST)


def resize_linear(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map (h, w) or (h, w, C), C <= 512, to (h, w)."""
    if img.shape[:2] == tuple(hw):
        return img
    out = cv2.resize(img, (int(hw[1]), int(hw[0])), interpolation=cv2.INTER_LINEAR)
    return out if out.ndim == img.ndim else out[..., None]


def fmb_decision(cs_probs: np.ndarray, kind: str = 'prob') -> tuple[np.ndarray, np.ndarray]:
    """
    FMB ids and confidence from Cityscapes probabilities (C, h, w).

    Merged classes are summed (``cityscapes_to_fmb_probs``); the unmapped mass
    (train, background) competes as one more candidate, and a pixel where it
    wins gets 255. ``kind='prob'``: confidence = the winner's probability;
    ``'margin'``: the winner's minus the runner-up's.
    """
    if kind not in CONFIDENCE_KINDS:
        raise ValueError(f'confidence kind {kind!r}: one of {CONFIDENCE_KINDS}')
    fmb = cityscapes_to_fmb_probs(cs_probs)
    unmapped = np.clip(1.0 - fmb.sum(axis=0, keepdims=True), 0.0, 1.0)
    cand = np.concatenate([fmb, unmapped], axis=0)
    order = np.argmax(cand, axis=0)
    top = np.take_along_axis(cand, order[None], axis=0)[0]
    if kind == 'margin':
        second = np.partition(cand, -2, axis=0)[-2]
        conf = top - second
    else:
        conf = top
    ids = order.astype(np.uint8)
    ids[order == len(FMB_CLASSES)] = IGNORE_INDEX
    return ids, np.clip(conf, 0.0, 1.0).astype(np.float32)


def finish(cs_probs: np.ndarray, cs_ids: np.ndarray, out_hw: tuple[int, int],
           kind: str = 'prob') -> TeacherOutput:
    """Decide at the model's resolution, then resize (ids: nearest, confidence: bilinear)."""
    ids, conf = fmb_decision(cs_probs, kind)
    return TeacherOutput(
        fmb_ids=resize_nearest(ids, out_hw),
        confidence=np.clip(resize_linear(conf, out_hw), 0.0, 1.0).astype(np.float32),
        cityscapes_ids=resize_nearest(cs_ids.astype(np.uint8), out_hw),
    )
