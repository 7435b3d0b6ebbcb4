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
One label image from teachers, boxes and the thermal image (training/labels/README.md).

Per pixel, in this order:

1. ignore (255) to start with: no pixel is labelled by default;
2. where the daylight teachers are trusted (the frame is day) and all of
   them agree on one class, each at least ``confidence`` sure: that class,
   if it is a background class (road, building, sky, ...);
3. with boxes: every pixel still unlabelled gets the set label of the
   groups whose boxes (enlarged by ``box_margin``) cover it: outside every
   box :data:`BACKGROUND_ANY` ("no object here"), around a person "background
   or person, not a car". Where a teacher sees an object of a group no box
   allows there, the pixel stays ignored (an unannotated car, or a teacher's
   invention: the label does not guess). Without boxes (a set with no
   annotation): the teachers' agreed object pixels are kept as they are;
4. inside each box, the object's pixels (``object_masks.object_mask``) get
   the box's class: cars first, then bicycles, then persons on top. At
   night, a car box may take its pixels from a teacher run on the
   max-luminance image (``night_teachers``, inside car boxes only: there its
   car pixels were right 58 % of the time against 11-33 % on the visible
   image, and the box's core is the fallback).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from evaluation.metrics.boxes import Box, box_pixel_bounds, box_pixel_mask, GROUPS
import numpy as np
from ros2_ssvif.classes import class_id, FMB_CLASSES, IGNORE_INDEX

from . import GROUP_BITS, GROUP_CLASSES, is_object_class, SET_BASE
from .object_masks import bicycle_mask, MaskRule, object_mask


__all__ = ['LabelRule', 'compose_label', 'object_votes', 'teacher_agreement']

PAINT_ORDER = ('car', 'bicycle', 'person')  # later groups paint over earlier ones
_OBJECT_IDS = np.array([i for i, n in enumerate(FMB_CLASSES) if is_object_class(n)], np.uint8)


@dataclass(frozen=True)
class LabelRule:
    """How much to trust whom (values measured in training/labels/README.md)."""

    confidence: float = 0.5      # each teacher's minimum confidence for a background pixel
    object_confidence: float = 0.3   # ... for an object pixel inside a box of its group
    box_margin: float = 0.15     # the object-free zone starts this far outside a box
    mask: MaskRule = field(default_factory=MaskRule)
    night_car_teacher: str | None = None  # teacher run on the max-luminance image at night


def teacher_agreement(outputs: Sequence, confidence: float) -> np.ndarray:
    """FMB ids where every teacher gives the same id with at least ``confidence``, else 255."""
    first = outputs[0].fmb_ids
    ok = first != IGNORE_INDEX
    for out in outputs:
        ok &= (out.fmb_ids == first) & (out.confidence >= confidence)
    return np.where(ok, first, IGNORE_INDEX).astype(np.uint8)


def object_votes(outputs: Sequence, confidence: float) -> np.ndarray:
    """Return the object ids any teacher gives with ``confidence`` (the first wins), else 255."""
    votes = np.full(outputs[0].fmb_ids.shape, IGNORE_INDEX, np.uint8)
    for out in reversed(outputs):
        hit = np.isin(out.fmb_ids, _OBJECT_IDS) & (out.confidence >= confidence)
        votes[hit] = out.fmb_ids[hit]
    return votes


def compose_label(shape: tuple[int, int], thermal: np.ndarray, teachers: Sequence | None,
                  boxes: Sequence[Box] | None, rule: LabelRule = LabelRule(),
                  night_teachers: Sequence | None = None) -> tuple[np.ndarray, Counter]:
    """
    Label image (uint8: class ids, set labels, 255) and a count of which source made each object.

    ``teachers``: the trusted teachers' ``TeacherOutput`` for this frame, or
    None / empty at night. ``boxes``: the frame's merged boxes, or None when
    the set has no annotation (an empty list means "annotated, no object").
    ``night_teachers``: teacher outputs on the max-luminance image of a night
    frame, read inside car boxes only (step 4).
    """
    h, w = int(shape[0]), int(shape[1])
    label = np.full((h, w), IGNORE_INDEX, np.uint8)
    votes = None
    if teachers:
        agreed = teacher_agreement(teachers, rule.confidence)
        is_obj = np.isin(agreed, _OBJECT_IDS)
        bg = (agreed != IGNORE_INDEX) & ~is_obj
        label[bg] = agreed[bg]
        votes = object_votes(teachers, rule.object_confidence)
        if boxes is None:
            label[is_obj] = agreed[is_obj]
    sources: Counter = Counter()
    if boxes is None:
        return label, sources
    bits = np.zeros((h, w), np.uint8)
    for group, bit in GROUP_BITS.items():
        bits[box_pixel_mask(boxes, (h, w), enlarge=rule.box_margin, group=group)] |= bit
    unexplained = np.zeros((h, w), bool)  # a teacher's object where no box of its group is
    if votes is not None:
        for group, bit in GROUP_BITS.items():
            ids = [i for i, n in enumerate(FMB_CLASSES) if n in GROUP_CLASSES[group]]
            unexplained |= np.isin(votes, ids) & ((bits & bit) == 0)
    free = (label == IGNORE_INDEX) & ~unexplained
    label[free] = SET_BASE + bits[free]
    group_ids = {g: tuple(class_id(n) for n in names) for g, names in GROUPS.items()}
    main_id = {g: class_id(names[0]) for g, names in GROUPS.items()}
    night_votes = (object_votes(night_teachers, rule.object_confidence)
                   if night_teachers and not teachers else None)
    person_cover = box_pixel_mask(boxes, (h, w), group='person')
    for group in PAINT_ORDER:
        box_votes = night_votes if group == 'car' and night_votes is not None else votes
        for box in (b for b in boxes if b.group == group):
            if group == 'bicycle':
                mask, source = bicycle_mask(box, thermal, box_votes, group_ids[group],
                                            person_cover, rule.mask)
            else:
                mask, source = object_mask(box, thermal, box_votes, group_ids, rule.mask)
            named = ('max-luminance teacher' if box_votes is night_votes and source == 'teacher'
                     else source)
            sources[f'{group}:{named}'] += 1
            if mask is None:
                continue
            c0, r0, c1, r1 = box_pixel_bounds(box, w, h)
            region = label[r0:r1, c0:c1]
            if source.startswith('teacher'):  # keep the teacher's class of the group (truck...)
                ids = box_votes[r0:r1, c0:c1]
                region[mask] = np.where(np.isin(ids[mask], group_ids[group]), ids[mask],
                                        main_id[group])
            else:
                region[mask] = main_id[group]
    return label, sources
