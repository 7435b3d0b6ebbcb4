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
Dense residual fusion backbone of bi-level dynamic learning (seed paper 003, Sec. 2.1).

"Two dense residual blocks [Yan et al., 2019]" compose the fusion network
F; Yan et al.'s block (AHDRNet's dilated residual dense block, DRDB) is a
dense block of dilated 3x3 convs (each layer sees the concatenation of the
input and every earlier layer), a 1x1 conv back to the input width and a
residual addition. The paper's efficiency table credits the dilated
convolutions with its speed; the dilation widens the receptive field
without striding, so features stay at full resolution.

CAF's fusion network ("three dense blocks, without any specific design",
seed paper 002 Sec. 4.1) is the same family with ``blocks=3``.

Layout: a 3x3 conv stem over concat(visible, thermal) -> ``blocks`` DRDBs
-> features (B, width, H, W). The image decoder is the project's
:class:`~training.models.decoder.ConvDecoder`, so the network plugs into
:class:`~training.models.fusion_model.FusionModel` (channels, sigmoid,
export) like every other backbone.
"""
from __future__ import annotations

import torch
from torch import nn

from .backbones.spec import register_backbone
from .decoder import ConvDecoder


__all__ = ['DilatedResidualDenseBlock', 'DenseResidualBackbone']


class DilatedResidualDenseBlock(nn.Module):
    """``layers`` dense dilated 3x3 conv + ReLU layers, 1x1 fusion conv, residual add."""

    def __init__(self, channels: int, growth: int = 16, layers: int = 4, dilation: int = 2):
        super().__init__()
        self.dense = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels + i * growth, growth, 3, padding=dilation, dilation=dilation),
                nn.ReLU(inplace=True),
            )
            for i in range(layers)
        )
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = x
        for layer in self.dense:
            feats = torch.cat([feats, layer(feats)], dim=1)
        return x + self.fuse(feats)


# Bi-level dynamic learning's two dilated residual dense blocks (seed paper 003); CAF: blocks=3.
@register_backbone('dense_residual', decoder=lambda c, out: ConvDecoder(c, (c // 2,), out))
class DenseResidualBackbone(nn.Module):
    """Visible + thermal -> full-resolution features through ``blocks`` DRDBs."""

    def __init__(self, in_channels: int = 1, width: int = 32, growth: int = 16, layers: int = 4,
                 blocks: int = 2, dilation: int = 2):
        super().__init__()
        if blocks < 1 or layers < 1:
            raise ValueError(f'blocks and layers must be >= 1, got {blocks}, {layers}')
        self.in_channels = in_channels
        self.out_channels = width
        self.stem = nn.Sequential(
            nn.Conv2d(2 * in_channels, width, 3, padding=1), nn.ReLU(inplace=True)
        )
        self.blocks = nn.Sequential(*(DilatedResidualDenseBlock(width, growth, layers, dilation)
                                      for _ in range(blocks)))

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(torch.cat([visible, thermal], dim=1)))
