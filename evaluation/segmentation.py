"""Segmentation scores (confusion matrix, IoU, mIoU): see :mod:`evaluation.metrics.segmentation`.

The implementation moved to the public metrics module so that training can
use it without importing the rest of evaluation; this name stays for the
evaluation commands and existing callers.
"""
from __future__ import annotations

from evaluation.metrics.segmentation import SegmentationScore, confusion_matrix, iou_from_confusion

__all__ = ["SegmentationScore", "confusion_matrix", "iou_from_confusion"]
