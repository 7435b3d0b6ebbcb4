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
Segmentation scores: confusion matrix, per-class IoU and mIoU.

Part of the public metrics module because training uses it too (the
segmenter's early stopping): training may import ``evaluation.metrics``
and nothing else of evaluation (test/test_layout_floors.py).

Labels are integer class ids; class 0 ("unlabeled") is a class like any
other and is counted, 255 (``ros2_ssvif.classes.IGNORE_INDEX``) is ignored.
The confusion matrix is accumulated over images (dataset-level IoU, not a
mean of per-image IoUs), as in the FMB / MSRS / Cityscapes protocols.

    conf[t, p] = number of pixels with label t predicted as p
    IoU_c = conf[c, c] / (sum_p conf[c, p] + sum_t conf[t, c] - conf[c, c])
    mIoU  = mean of IoU_c over classes that occur in the labels or predictions
            (a class absent from both has IoU NaN and is left out).
"""
from __future__ import annotations

import numpy as np
from ros2_ssvif.classes import CLASS_SETS, IGNORE_INDEX


__all__ = ['SegmentationScore', 'confusion_matrix', 'iou_from_confusion']


def confusion_matrix(
    label, pred, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """num_classes x num_classes int64 confusion matrix of one image (rows: label)."""
    t, p = np.asarray(label), np.asarray(pred)
    if t.shape != p.shape:
        raise ValueError(f'label and prediction shapes differ: {t.shape} vs {p.shape}')
    for name, a in (('label', t), ('prediction', p)):
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f'{name}: expected integer class ids, got dtype {a.dtype}')
    keep = t != ignore_index
    t, p = t[keep].astype(np.int64), p[keep].astype(np.int64)
    bad_t = (t < 0) | (t >= num_classes)
    if bad_t.any():
        raise ValueError(f'label has ids outside 0..{num_classes - 1} (and not {ignore_index}): '
                         f'{np.unique(t[bad_t])[:10].tolist()}')
    bad_p = (p < 0) | (p >= num_classes)
    if bad_p.any():
        raise ValueError(
            f'prediction has ids outside 0..{num_classes - 1}: {np.unique(p[bad_p])[:10].tolist()}'
        )
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def iou_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU (NaN for a class that is in neither labels nor predictions)."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0, tp / union, np.nan)


class SegmentationScore:
    """
    Accumulates a confusion matrix over images; reports IoU per class and mIoU.

    >>> s = SegmentationScore("msrs")      # or "fmb", or a tuple of class names
    >>> s.update(label, prediction)        # any number of times
    >>> s.miou(), s.per_class_iou()        # {"car": 0.8, ...}
    """

    def __init__(self, classes: str | tuple[str, ...] = 'fmb', ignore_index: int = IGNORE_INDEX):
        if isinstance(classes, str):
            try:
                classes = CLASS_SETS[classes.lower()][0]
            except KeyError:
                raise ValueError(
                    f'unknown class set {classes!r}; known: {", ".join(CLASS_SETS)}'
                ) from None
        self.classes = tuple(classes)
        self.ignore_index = ignore_index
        self.confusion = np.zeros((len(self.classes),) * 2, dtype=np.int64)

    def update(self, label, pred) -> None:
        self.confusion += confusion_matrix(label, pred, len(self.classes), self.ignore_index)

    def iou(self) -> np.ndarray:
        return iou_from_confusion(self.confusion)

    def per_class_iou(self) -> dict[str, float]:
        return dict(zip(self.classes, self.iou().tolist()))

    def miou(self) -> float:
        iou = self.iou()
        if np.all(np.isnan(iou)):
            raise ValueError(
                'no pixels scored yet: call update() with at least one non-ignored pixel'
            )
        return float(np.nanmean(iou))
