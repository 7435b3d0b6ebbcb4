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

"""Confusion matrix, per-class IoU and mIoU worked out by hand."""
from __future__ import annotations

import math
from pathlib import Path
import sys

import numpy as np
import pytest


try:
    import evaluation  # noqa: F401
except ImportError:  # editable install made before evaluation/ existed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.metrics.segmentation import (  # noqa: I100 (after the import guard)
    confusion_matrix,
    iou_from_confusion,
    SegmentationScore,
)
from ros2_ssvif.classes import FMB_CLASSES, MSRS_CLASSES


LABEL = np.array([[0, 0, 1, 1],
                  [0, 2, 1, 255]])
PRED = np.array([[0, 1, 1, 1],
                 [0, 2, 2, 7]])  # the 7 sits on an ignored pixel


def test_confusion_matrix_counts_class_0_and_ignores_255():
    conf = confusion_matrix(LABEL, PRED, 3)
    assert conf.tolist() == [[2, 1, 0],
                             [0, 2, 1],
                             [0, 0, 1]]


def test_iou_by_hand():
    iou = iou_from_confusion(confusion_matrix(LABEL, PRED, 3))
    # class 0: tp 2, label 3, pred 2 -> 2/3; class 1: 2/(3+3-2) = 1/2; class 2: 1/(1+2-1) = 1/2
    assert iou.tolist() == pytest.approx([2 / 3, 1 / 2, 1 / 2])


def test_accumulates_over_images_and_skips_absent_classes():
    s = SegmentationScore('msrs')
    s.update(LABEL, PRED)
    s.update(np.array([[1, 1]]), np.array([[1, 1]]))
    # class 1 now: tp 4, label 5, pred 5 -> 4/6
    iou = s.per_class_iou()
    assert list(iou) == list(MSRS_CLASSES)
    assert iou['car'] == pytest.approx(4 / 6)
    assert math.isnan(iou['bump'])
    assert s.miou() == pytest.approx((2 / 3 + 4 / 6 + 1 / 2) / 3)
    assert SegmentationScore().classes == FMB_CLASSES


def test_bad_input():
    with pytest.raises(ValueError, match='shapes differ'):
        confusion_matrix(LABEL, PRED[:, :2], 3)
    with pytest.raises(ValueError, match='outside 0..2'):
        confusion_matrix(np.array([[3]]), np.array([[0]]), 3)
    with pytest.raises(TypeError, match='integer'):
        confusion_matrix(LABEL.astype(float), PRED, 3)
    with pytest.raises(ValueError, match='unknown class set'):
        SegmentationScore('cityscapes')
    with pytest.raises(ValueError, match='no pixels'):
        SegmentationScore('msrs').miou()
