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
Segmentation labels made without pixel annotation (offline, never at run time).

Real pairs come with boxes (``msrs_test_dev``) or with nothing
(RoadScene); the daylight teachers in ``training.teachers`` see the visible
camera only. ``make`` combines them into label images the segmenter trains
on; ``object_masks`` turns boxes into object pixels; ``compose`` merges
teachers, boxes and the day/night decision into one label per pixel.

Label values: the class ids of the class set (FMB by default), ``255``
ignore, and *set labels* ``SET_BASE + bits`` (240-247): "one of the
background classes, or of the object groups in ``bits``" (person 1, car 2,
bicycle 4), which one unknown. A pixel outside every box is
:data:`BACKGROUND_ANY` (240, no group): no object there. A pixel inside a
person box that is not the person's warm blob is 241: background or that
person, but not a car. The segmenter's loss
(``training.losses.segmentation.partial_label_ce``) reads each set label as
its set of classes (:func:`label_sets`).
"""
from __future__ import annotations

from ros2_ssvif.classes import CLASS_SETS


__all__ = ['BACKGROUND_ANY', 'GROUP_BITS', 'GROUP_CLASSES', 'OBJECT_CLASSES', 'SET_BASE',
           'background_classes', 'is_object_class', 'label_sets', 'set_label']

SET_BASE = 240
BACKGROUND_ANY = SET_BASE
#: the object groups of the box labels (evaluation.metrics.boxes.GROUPS) and their bit
GROUP_BITS = {'person': 1, 'car': 2, 'bicycle': 4}
#: the class names of each group, in the FMB and MSRS class sets
GROUP_CLASSES = {'person': ('person',), 'car': ('car', 'truck', 'bus'),
                 'bicycle': ('bicycle', 'motorcycle', 'bike')}
OBJECT_CLASSES = tuple(n for names in GROUP_CLASSES.values() for n in names)


def is_object_class(name: str) -> bool:
    return name in OBJECT_CLASSES


def set_label(groups=()) -> int:
    """Return the set label of "background or one of ``groups``" (group names)."""
    return SET_BASE + sum(GROUP_BITS[g] for g in set(groups))


def background_classes(class_set: str = 'fmb') -> list[bool]:
    """
    Per class id of ``class_set``: may a BACKGROUND_ANY pixel be this class.

    Every named class that is not an object; not 'unlabeled', which the
    teachers never emit and a box-free pixel is not.
    """
    names = CLASS_SETS[class_set][0]
    return [not is_object_class(n) and n != 'unlabeled' for n in names]


def label_sets(class_set: str = 'fmb') -> dict[int, list[bool]]:
    """Set label -> per class id of ``class_set``, may a pixel with that label be the class."""
    names = CLASS_SETS[class_set][0]
    out = {}
    for bits in range(2 ** len(GROUP_BITS)):
        allowed = set()
        for group, bit in GROUP_BITS.items():
            if bits & bit:
                allowed.update(GROUP_CLASSES[group])
        out[SET_BASE + bits] = [b or n in allowed
                                for b, n in zip(background_classes(class_set), names)]
    return out
