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
Fusion model F = D(B(visible, thermal)) with SSVIF's input conventions.

Three-channel mode (default, SSVIF III-B): visible RGB and thermal enter as
3 channels each (a 1-channel thermal image is repeated), and the decoder
predicts RGB directly. Single-channel mode (Table VIII ablation): only the
luma is fused (visible Y, thermal intensity) and the result is recombined
with the visible Cb/Cr, so ``fused`` is RGB either way and callers never
branch on the mode.

Two output parameterisations (``output``):

* ``direct`` (the papers'): the decoder predicts the image; ``fused`` is a
  sigmoid of its output.
* ``blend``: the decoder predicts, per pixel and channel, a weight map w and
  a residual r; the image is sigmoid(logit(w * V + (1 - w) * T) + r) with
  V, T the (luma or RGB) sources at full resolution. A network with
  low-resolution features (the realtime backbone) then still passes every
  full-resolution edge of the sources through, and with its last layer
  zero-initialised it starts as the mean rule instead of a grey image, so a
  short CPU run does not spend its steps relearning the sources. The
  logit-space residual keeps the output in (0, 1) without a clamp that
  would cut gradients. ``refine_width`` > 0 adds two full-resolution 3x3
  convolutions on (V, T, blend) whose output joins the residual: a few
  hundred multiply-adds per pixel that let a low-resolution backbone still
  place edges to the pixel (the gradient term asks for the stronger source
  edge everywhere).

In single-channel mode the YCbCr -> RGB conversion is clamped to [0, 1],
which keeps the visible chroma exactly wherever the colour is in gamut.
"""
from __future__ import annotations

from typing import NamedTuple

from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb
import torch
from torch import nn


__all__ = ['OUTPUTS', 'FusionModel', 'FusionOutput', 'decoder_channels']

OUTPUTS = ('direct', 'blend')
_EPS = 1e-3  # keeps logit(base) finite: |logit| <= 6.9


def decoder_channels(in_channels: int, output: str) -> int:
    """
    Return the number of channels the decoder must predict.

    The image, or a weight map plus a residual per channel.
    """
    if output not in OUTPUTS:
        raise ValueError(f'output must be one of {OUTPUTS}, got {output!r}')
    return in_channels if output == 'direct' else 1 + in_channels


class FusionOutput(NamedTuple):
    """A NamedTuple so ONNX export and ``torch.jit``/``torch.export`` see a plain tuple."""

    fused: torch.Tensor     # (B, 3, H, W) RGB in [0, 1]
    features: torch.Tensor  # (B, C, H', W') fused features (for the segmentation head)


class FusionModel(nn.Module):
    """Backbone + image decoder; ``forward(visible, thermal) -> FusionOutput``."""

    def __init__(
        self,
        backbone: nn.Module,
        decoder: nn.Module,
        in_channels: int = 3,
        output: str = 'direct',
        refine_width: int = 0,
    ):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f'in_channels must be 1 or 3, got {in_channels}')
        decoder_channels(in_channels, output)  # validates output
        if refine_width and output != 'blend':
            raise ValueError("refine_width needs output='blend'")
        self.backbone = backbone
        self.decoder = decoder
        self.in_channels = in_channels
        self.output = output
        self.refiner = None
        lasts = []
        if output == 'blend':
            lasts.append([m for m in decoder.modules() if isinstance(m, nn.Conv2d)][-1])
        if refine_width:
            c = in_channels
            self.refiner = nn.Sequential(
                nn.Conv2d(3 * c, refine_width, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(refine_width, c, 3, padding=1),
            )
            lasts.append(self.refiner[-1])
        for last in lasts:  # start as the mean rule: w = 0.5, r = 0
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)

    def _image(self, raw: torch.Tensor, src_v: torch.Tensor, src_t: torch.Tensor) -> torch.Tensor:
        if self.output == 'direct':
            return torch.sigmoid(raw)
        w = torch.sigmoid(raw[:, :1])
        base = (w * src_v + (1.0 - w) * src_t).clamp(_EPS, 1.0 - _EPS)
        residual = raw[:, 1:]
        if self.refiner is not None:
            residual = residual + self.refiner(torch.cat([src_v, src_t, base], dim=1))
        return torch.sigmoid(torch.logit(base) + residual)

    @property
    def out_channels(self) -> int:
        """Channels of ``features`` (what a segmentation head must accept)."""
        return self.backbone.out_channels

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> FusionOutput:
        if visible.shape[1] != 3:
            raise ValueError(f'visible must be (B, 3, H, W), got {tuple(visible.shape)}')
        if thermal.shape[1] not in (1, 3):
            raise ValueError(
                f'thermal must be (B, 1, H, W) or (B, 3, H, W), got {tuple(thermal.shape)}'
            )
        h, w = visible.shape[-2:]
        if self.in_channels == 3:
            if thermal.shape[1] == 1:
                thermal = thermal.expand(-1, 3, -1, -1)
            features = self.backbone(visible, thermal)
            fused = self._image(self.decoder(features)[..., :h, :w], visible, thermal)
            return FusionOutput(fused, features)

        vis_ycbcr = rgb_to_ycbcr(visible)
        thermal_y = thermal if thermal.shape[1] == 1 else rgb_to_ycbcr(thermal)[:, :1]
        features = self.backbone(vis_ycbcr[:, :1], thermal_y)
        fused_y = self._image(self.decoder(features)[..., :h, :w], vis_ycbcr[:, :1], thermal_y)
        fused = ycbcr_to_rgb(torch.cat([fused_y, vis_ycbcr[:, 1:]], dim=1)).clamp(0.0, 1.0)
        return FusionOutput(fused, features)
