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
Cityscapes train ids and their mapping onto the project's FMB classes.

Why: the offline teachers (ESPNetv2, DeepLab/TFLite) were trained on
Cityscapes and predict its 19 train ids (ESPNetv2 adds a 20th "background"
output); the project's masks use ``ros2_ssvif.classes.FMB_CLASSES``. This
module is the one place that says which Cityscapes class becomes which FMB
class, for id maps and for probability maps (merged classes are summed).

Decisions:

* building, wall and fence -> building; vegetation and terrain -> vegetation;
  person and rider -> person (FMB has no separate class for them).
* train -> ignore (255). FMB has no rail-vehicle class; calling a tram "bus"
  would teach the student a wrong appearance for bus, and a pseudo-label that
  is unsure should rather be left out of the loss. Its probability mass goes
  to "unmapped" (see ``cityscapes_to_fmb_probs``).
* ESPNetv2's "background" output (id 19) and the Cityscapes ignore label 255
  -> ignore (255). Nothing maps to FMB's "unlabeled" (id 0): a teacher never
  claims a pixel is unlabelled, it either names a class or abstains.
"""
from __future__ import annotations

import numpy as np
from ros2_ssvif.classes import class_id, FMB_CLASSES, IGNORE_INDEX


CITYSCAPES_CLASSES: tuple[str, ...] = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
    'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
    'motorcycle', 'bicycle',
)
BACKGROUND_ID = 19  # ESPNetv2's extra output, after the 19 train ids

# Cityscapes name -> FMB name; None: no FMB class (ignore, 255)
CITYSCAPES_TO_FMB: dict[str, str | None] = {
    'road': 'road',
    'sidewalk': 'sidewalk',
    'building': 'building',
    'wall': 'building',
    'fence': 'building',
    'pole': 'pole',
    'traffic light': 'traffic_light',
    'traffic sign': 'traffic_sign',
    'vegetation': 'vegetation',
    'terrain': 'vegetation',
    'sky': 'sky',
    'person': 'person',
    'rider': 'person',
    'car': 'car',
    'truck': 'truck',
    'bus': 'bus',
    'train': None,
    'motorcycle': 'motorcycle',
    'bicycle': 'bicycle',
}


def _id_lut() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for cs_id, name in enumerate(CITYSCAPES_CLASSES):
        target = CITYSCAPES_TO_FMB[name]
        if target is not None:
            lut[cs_id] = class_id(target, FMB_CLASSES)
    return lut


FMB_ID_LUT: np.ndarray = _id_lut()  # Cityscapes train id (0..255) -> FMB id or 255
FMB_ID_LUT.flags.writeable = False


def merge_matrix(num_inputs: int = len(CITYSCAPES_CLASSES)) -> np.ndarray:
    """(len(FMB_CLASSES), num_inputs) 0/1 matrix; row j sums the inputs of FMB class j."""
    if num_inputs < len(CITYSCAPES_CLASSES):
        raise ValueError(f'{num_inputs} class channels: at least the '
                         f'{len(CITYSCAPES_CLASSES)} Cityscapes train ids are needed')
    m = np.zeros((len(FMB_CLASSES), num_inputs), np.float32)
    for cs_id in range(len(CITYSCAPES_CLASSES)):
        fmb = int(FMB_ID_LUT[cs_id])
        if fmb != IGNORE_INDEX:
            m[fmb, cs_id] = 1.0
    return m


def cityscapes_to_fmb_ids(ids: np.ndarray) -> np.ndarray:
    """
    Map Cityscapes train ids to FMB ids (uint8, same shape; 255 where unmapped).

    Unmapped: train, ESPNetv2's background (19), 255 and any id outside 0..18.
    """
    ids = np.asarray(ids)
    if ids.dtype.kind not in 'iu':
        raise TypeError(f'ids must be integers, got {ids.dtype}')
    out = np.full(ids.shape, IGNORE_INDEX, np.uint8)
    inside = (ids >= 0) & (ids < 256)
    out[inside] = FMB_ID_LUT[ids[inside].astype(np.intp)]
    return out


def cityscapes_to_fmb_probs(probs: np.ndarray) -> np.ndarray:
    """
    Sum Cityscapes class probabilities into FMB classes.

    ``probs``: (C, ...) with C = 19 (train ids) or 20 (ESPNetv2: then
    background), classes on axis 0. Returns float32 (len(FMB_CLASSES), ...);
    channel 0 ("unlabeled") is zero. Mass of unmapped classes (train,
    background) is dropped, so a pixel's FMB probabilities sum to
    ``1 - unmapped``; ``1 - out.sum(0)`` recovers it.
    """
    probs = np.asarray(probs, np.float32)
    m = merge_matrix(probs.shape[0])
    flat = probs.reshape(probs.shape[0], -1)
    return (m @ flat).reshape((len(FMB_CLASSES),) + probs.shape[1:])
