"""Evaluation of fused images (quality metrics, CLI) and of segmentation (IoU)."""
