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
Class lists the masks are labelled with (FMB is the default).

FMB (SegMiF, ICCV 2023) labels 14 categories plus unlabelled background,
15 ids in all; MSRS (PIAFusion) has 9. The palette gives every id a fixed
colour so overlays look the same in every report and on every vehicle.
"""
from __future__ import annotations


FMB_CLASSES: tuple[str, ...] = (
    'unlabeled', 'road', 'sidewalk', 'building', 'traffic_light', 'traffic_sign',
    'vegetation', 'sky', 'person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle', 'pole',
)

MSRS_CLASSES: tuple[str, ...] = (
    'unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop', 'guardrail', 'color_cone', 'bump',
)

# RGB colours, Cityscapes-like where the class exists there.
FMB_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (128, 64, 128), (244, 35, 232), (70, 70, 70), (250, 170, 30),
    (220, 220, 0), (107, 142, 35), (70, 130, 180), (220, 20, 60), (0, 0, 142),
    (0, 0, 70), (0, 60, 100), (0, 0, 230), (119, 11, 32), (153, 153, 153),
)

MSRS_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (0, 0, 142), (220, 20, 60), (119, 11, 32), (255, 128, 0),
    (128, 128, 0), (0, 128, 128), (255, 0, 255), (128, 0, 255),
)

CLASS_SETS = {'fmb': (FMB_CLASSES, FMB_PALETTE), 'msrs': (MSRS_CLASSES, MSRS_PALETTE)}

IGNORE_INDEX = 255


def class_id(name: str, classes: tuple[str, ...] = FMB_CLASSES) -> int:
    """Id of a class by name; raises KeyError with the known names."""
    try:
        return classes.index(name)
    except ValueError:
        raise KeyError(f"unknown class {name!r}; known: {', '.join(classes)}") from None
