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
Object masks from boxes: pixel labels for person, car and bicycle without pixel annotation.

The real MSRS pairs carry boxes, not masks. Inside a box, which pixels are
the object comes from the source that sees it best (measured on the
training days of ``msrs_test_dev``, see training/labels/README.md):

* **person**: warm pixels of the registered thermal image. A person is
  warmer than what surrounds them, day and night; Otsu's threshold over the
  box and a margin around it separates the two. By day these silhouettes
  matched the daylight teacher's person masks inside the same boxes better
  than the teacher found the people itself (the teacher missed 37 % of
  the persons >= 24 px tall that the thermal blob outlined).
* **car**: the daylight teacher's car pixels inside the box when it covers
  enough of it (cars are not uniformly warm: their thermal blob is the
  engine and the tyres); otherwise the box's core, since a car fills most of
  its box.
* **bicycle**: the teacher's bicycle / motorcycle pixels inside the box by
  day; a bicycle is mostly holes, so without them nothing is labelled.
  With ``MaskRule.rider_as_bicycle`` the warm blob inside the box that no
  person box covers is bicycle too: MSRS boxes a cyclist (rider and bike)
  as one bicycle box, so the scoring counts a rider's "person" pixels as
  wrong, and the teachers (Cityscapes rider -> person) taught exactly that.

Everything else inside a box stays ignored: the loss never hears a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
from evaluation.metrics.boxes import Box, box_pixel_bounds
import numpy as np


__all__ = [
    'MaskRule',
    'bicycle_mask',
    'core_mask',
    'object_mask',
    'teacher_mask',
    'warm_blob',
]


@dataclass(frozen=True)
class MaskRule:
    """Thresholds of the box-to-mask rules (fractions of the box's pixels)."""

    margin: float = 0.3          # Otsu sees the box plus this fraction of its size around it
    blob_min: float = 0.08       # a thermal blob smaller than this is noise or a cold person
    blob_max: float = 0.85       # ... larger than this is the background, not a person
    teacher_min: float = 0.3     # teacher pixels must cover this much of a car / person box
    bicycle_teacher_min: float = 0.05  # a bicycle is thin: a little is enough
    core_w: float = 0.7          # the box core labelled car when no source outlines it
    core_h: float = 0.6
    rider_as_bicycle: bool = False  # a bicycle box's warm blob outside person boxes is bicycle


def warm_blob(thermal: np.ndarray, box: Box, rule: MaskRule = MaskRule()) -> np.ndarray | None:
    """
    Bool mask of the box's warm pixels (box-sized), or None when no blob stands out.

    Otsu over the box enlarged by ``rule.margin``, applied inside the box;
    thermal is any single-channel image where warm is bright.
    """
    th = _as_u8(thermal)
    h, w = th.shape
    c0, r0, c1, r1 = box_pixel_bounds(box, w, h)
    e0, f0, e1, f1 = box_pixel_bounds(box, w, h, rule.margin)
    region = th[f0:f1, e0:e1]
    if region.size < 4 or int(region.max()) == int(region.min()):
        return None
    t, _ = cv2.threshold(region, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    blob = th[r0:r1, c0:c1] > t
    frac = float(blob.mean())
    if not rule.blob_min <= frac <= rule.blob_max:
        return None
    return blob


def teacher_mask(class_ids: np.ndarray, box: Box, ids: tuple[int, ...],
                 min_fraction: float) -> np.ndarray | None:
    """Bool mask (box-sized) of the teacher's pixels of ``ids`` in the box, or None if too few."""
    h, w = class_ids.shape
    c0, r0, c1, r1 = box_pixel_bounds(box, w, h)
    m = np.isin(class_ids[r0:r1, c0:c1], ids)
    return m if m.size and float(m.mean()) >= min_fraction else None


def core_mask(box: Box, shape: tuple[int, int], rule: MaskRule = MaskRule()) -> np.ndarray:
    """Bool mask (box-sized): the centred ``core_w`` x ``core_h`` rectangle of the box."""
    h, w = shape
    c0, r0, c1, r1 = box_pixel_bounds(box, w, h)
    bh, bw = r1 - r0, c1 - c0
    m = np.zeros((bh, bw), bool)
    mh, mw = max(1, round(bh * rule.core_h)), max(1, round(bw * rule.core_w))
    y, x = (bh - mh) // 2, (bw - mw) // 2
    m[y:y + mh, x:x + mw] = True
    return m


def object_mask(box: Box, thermal: np.ndarray, teacher_ids: np.ndarray | None,
                group_ids: dict[str, tuple[int, ...]],
                rule: MaskRule = MaskRule()) -> tuple[np.ndarray | None, str]:
    """
    Return the object's pixels inside ``box`` (box-sized bool mask) and the source used.

    ``teacher_ids`` are FMB class ids from a daylight teacher, or None where
    the teacher is not trusted (night). Source names: 'thermal', 'teacher',
    'core', 'none'.
    """
    ids = group_ids[box.group]
    if box.group == 'person':
        blob = warm_blob(thermal, box, rule)
        if blob is not None:
            return blob, 'thermal'
        if teacher_ids is not None:
            m = teacher_mask(teacher_ids, box, ids, rule.teacher_min)
            if m is not None:
                return m, 'teacher'
        return None, 'none'
    if box.group == 'car':
        if teacher_ids is not None:
            m = teacher_mask(teacher_ids, box, ids, rule.teacher_min)
            if m is not None:
                return m, 'teacher'
        return core_mask(box, thermal.shape[:2], rule), 'core'
    if teacher_ids is not None:  # bicycle and any other group: the teacher or nothing
        m = teacher_mask(teacher_ids, box, ids, rule.bicycle_teacher_min)
        if m is not None:
            return m, 'teacher'
    return None, 'none'


def bicycle_mask(box: Box, thermal: np.ndarray, teacher_ids: np.ndarray | None,
                 ids: tuple[int, ...], person_cover: np.ndarray | None,
                 rule: MaskRule = MaskRule()) -> tuple[np.ndarray | None, str]:
    """
    Return a bicycle box's pixels (box-sized bool mask) and the source used.

    The teacher's bicycle pixels (day); with ``rule.rider_as_bicycle`` also
    the box's warm blob where ``person_cover`` (full-frame bool: pixels of
    person boxes) is False. Sources: 'teacher', 'thermal', 'teacher+thermal',
    'none'.
    """
    m = (teacher_mask(teacher_ids, box, ids, rule.bicycle_teacher_min)
         if teacher_ids is not None else None)
    if not rule.rider_as_bicycle:
        return (m, 'teacher') if m is not None else (None, 'none')
    blob = warm_blob(thermal, box, rule)
    if blob is not None and person_cover is not None:
        h, w = person_cover.shape
        c0, r0, c1, r1 = box_pixel_bounds(box, w, h)
        blob = blob & ~person_cover[r0:r1, c0:c1]
    if blob is not None and not blob.any():
        blob = None
    if m is None and blob is None:
        return None, 'none'
    if m is None:
        return blob, 'thermal'
    if blob is None:
        return m, 'teacher'
    return m | blob, 'teacher+thermal'


def _as_u8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 3:
        img = img[..., 0]
    if img.dtype == np.uint8:
        return img
    f = img.astype(np.float32)
    lo, hi = float(np.nanmin(f)), float(np.nanmax(f))
    if not np.isfinite(lo) or hi <= lo:
        return np.zeros(img.shape, np.uint8)
    return np.clip((f - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
