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
ignore, and :data:`BACKGROUND_ANY` (254), "none of the object classes,
which one unknown": what a pixel outside every box is. The segmenter's loss
(``training.losses.segmentation.partial_label_ce``) reads it as the set of
background classes.
"""
from __future__ import annotations

from ros2_ssvif.classes import CLASS_SETS


__all__ = ['BACKGROUND_ANY', 'OBJECT_CLASSES', 'background_classes', 'is_object_class']

BACKGROUND_ANY = 254

#: classes a box stands for (evaluation.metrics.boxes.GROUPS), in the FMB and MSRS class sets
OBJECT_CLASSES = ('person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle', 'bike')


def is_object_class(name: str) -> bool:
    return name in OBJECT_CLASSES


def background_classes(class_set: str = 'fmb') -> list[bool]:
    """
    Per class id of ``class_set``: may a BACKGROUND_ANY pixel be this class.

    Every named class that is not an object; not 'unlabeled', which the
    teachers never emit and a box-free pixel is not.
    """
    names = CLASS_SETS[class_set][0]
    return [not is_object_class(n) and n != 'unlabeled' for n in names]
