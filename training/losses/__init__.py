"""SSVIF losses: fusion loss (Eq. 3) and cross-segmentation consistency (Eq. 4-6)."""
from training.losses.csc import CSCLoss, dice_loss, hybrid_loss, match_resolution, pseudo_label
from training.losses.fusion import (
    FusionLoss,
    color_loss,
    gradient_loss,
    intensity_loss,
    sobel_magnitude,
    ssim_loss,
)

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
]
