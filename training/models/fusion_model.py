"""Fusion model F = D(B(visible, thermal)) with SSVIF's input conventions.

Three-channel mode (default, SSVIF III-B): visible RGB and thermal enter as
3 channels each (a 1-channel thermal image is repeated), and the decoder
predicts RGB directly. Single-channel mode (Table VIII ablation): only the
luma is fused (visible Y, thermal intensity) and the result is recombined
with the visible Cb/Cr, so ``fused`` is RGB either way and callers never
branch on the mode.

``fused`` is a sigmoid of the decoder output, so it is in [0, 1]; in
single-channel mode the YCbCr -> RGB conversion is clamped to [0, 1], which
keeps the visible chroma exactly wherever the colour is in gamut.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb
from torch import nn

__all__ = ["FusionModel", "FusionOutput"]


class FusionOutput(NamedTuple):
    """A NamedTuple so ONNX export and ``torch.jit``/``torch.export`` see a plain tuple."""

    fused: torch.Tensor     # (B, 3, H, W) RGB in [0, 1]
    features: torch.Tensor  # (B, C, H', W') fused features (for the segmentation head)


class FusionModel(nn.Module):
    """Backbone + image decoder; ``forward(visible, thermal) -> FusionOutput``."""

    def __init__(self, backbone: nn.Module, decoder: nn.Module, in_channels: int = 3):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        self.backbone = backbone
        self.decoder = decoder
        self.in_channels = in_channels

    @property
    def out_channels(self) -> int:
        """Channels of ``features`` (what a segmentation head must accept)."""
        return self.backbone.out_channels

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> FusionOutput:
        if visible.shape[1] != 3:
            raise ValueError(f"visible must be (B, 3, H, W), got {tuple(visible.shape)}")
        if thermal.shape[1] not in (1, 3):
            raise ValueError(f"thermal must be (B, 1, H, W) or (B, 3, H, W), got {tuple(thermal.shape)}")
        h, w = visible.shape[-2:]
        if self.in_channels == 3:
            if thermal.shape[1] == 1:
                thermal = thermal.expand(-1, 3, -1, -1)
            features = self.backbone(visible, thermal)
            fused = torch.sigmoid(self.decoder(features)[..., :h, :w])
            return FusionOutput(fused, features)

        vis_ycbcr = rgb_to_ycbcr(visible)
        thermal_y = thermal if thermal.shape[1] == 1 else rgb_to_ycbcr(thermal)[:, :1]
        features = self.backbone(vis_ycbcr[:, :1], thermal_y)
        fused_y = torch.sigmoid(self.decoder(features)[..., :h, :w])
        fused = ycbcr_to_rgb(torch.cat([fused_y, vis_ycbcr[:, 1:]], dim=1)).clamp(0.0, 1.0)
        return FusionOutput(fused, features)
