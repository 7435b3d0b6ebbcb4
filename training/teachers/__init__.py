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
Offline segmentation teachers: Cityscapes networks that make FMB pseudo-labels.

Why: real visible + thermal pairs come without masks; two segmenters trained
by others on Cityscapes (``../shared/weights``, weights only, permissive
licences) label the visible image offline, at training time. Nothing here is
used by the vehicle runtime, and nothing downloads weights.

    teacher = load_teacher('espnetv2', weights_dir)        # or 'deeplab'
    out = teacher.predict(rgb_uint8)                        # TeacherOutput
    out.fmb_ids, out.confidence, out.cityscapes_ids         # (H, W) each

``espnetv2`` runs the project's own ESPNetv2 (``training.teachers.espnetv2``)
with torch; ``deeplab`` runs the quantised TFLite DeepLab with ai-edge-litert
(``training.teachers.deeplab_tflite``). Both are imported only when loaded.
Both were trained on daylight visible images: at night their output is a
baseline, not ground truth.
"""
from __future__ import annotations

from pathlib import Path

from .cityscapes import (
    BACKGROUND_ID,
    CITYSCAPES_CLASSES,
    CITYSCAPES_TO_FMB,
    cityscapes_to_fmb_ids,
    cityscapes_to_fmb_probs,
)
from .common import CONFIDENCE_KINDS, fmb_decision, Teacher, TeacherOutput


TEACHERS = ('espnetv2', 'deeplab')


def load_teacher(name: str, weights_dir: str | Path, **options) -> Teacher:
    """
    Build a teacher by name from the folder holding its weights file.

    ``options``: ``confidence`` ('prob' or 'margin') and ``num_threads`` for
    both; ``size`` (width, height; default 1024 x 512) and ``device`` for
    'espnetv2'.
    """
    weights_dir = Path(weights_dir)
    if name == 'espnetv2':
        from .espnetv2 import ESPNetv2Teacher
        return ESPNetv2Teacher(weights_dir, **options)
    if name == 'deeplab':
        from .deeplab_tflite import DeepLabTeacher
        return DeepLabTeacher(weights_dir, **options)
    raise ValueError(f'unknown teacher {name!r}; known: {", ".join(TEACHERS)}')


__all__ = [
    'BACKGROUND_ID',
    'CITYSCAPES_CLASSES',
    'CITYSCAPES_TO_FMB',
    'CONFIDENCE_KINDS',
    'TEACHERS',
    'Teacher',
    'TeacherOutput',
    'cityscapes_to_fmb_ids',
    'cityscapes_to_fmb_probs',
    'fmb_decision',
    'load_teacher',
]
