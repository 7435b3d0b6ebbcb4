"""Losses: SSVIF's fusion loss (Eq. 3) and L_csc (Eq. 4-6); supervised CE + Dice
(MultiTaskVIF); SegMiF's fusion loss; EMMA's sensing and equivariance losses."""
from training.losses.csc import CSCLoss, dice_loss, hybrid_loss, match_resolution, pseudo_label
from training.losses.emma import equivariant_views, sensing_loss
from training.losses.fusion import (
    FusionLoss,
    color_loss,
    gradient_loss,
    intensity_loss,
    sobel_magnitude,
    ssim_loss,
)
from training.losses.segmentation import masked_dice_loss, supervised_seg_loss
from training.losses.segmif import SegMiFFusionLoss, visual_saliency

__all__ = [
    "FusionLoss",
    "intensity_loss",
    "gradient_loss",
    "ssim_loss",
    "color_loss",
    "sobel_magnitude",
    "CSCLoss",
    "pseudo_label",
    "hybrid_loss",
    "dice_loss",
    "match_resolution",
    "supervised_seg_loss",
    "masked_dice_loss",
    "SegMiFFusionLoss",
    "visual_saliency",
    "sensing_loss",
    "equivariant_views",
]
