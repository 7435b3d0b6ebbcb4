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
SeAFusion-style backbone (Tang et al., 2022), written from the paper.

Each modality: 3x3 conv -> two gradient residual dense blocks (GRRB). A GRRB
adds a dense-block path (fine features) to a Sobel-magnitude path (edges,
which fusion must keep). The two encoded modalities are concatenated into
the fused feature map (96 channels by default); the image decoder then
reduces it 96 -> 64 -> 32 -> 16 -> image as in the original network.
With widths (16, 32, 48) the whole fusion model has ~0.17 M parameters,
as in SSVIF Table IV.
"""
from __future__ import annotations

from kornia.filters import spatial_gradient
import torch
from torch import nn

from .spec import register_backbone
from ..decoder import ConvDecoder


__all__ = ['DenseBlock', 'GradientResidualBlock', 'SeAFusionBackbone']


def _conv_lrelu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))


class DenseBlock(nn.Module):
    """Two densely connected 3x3 convs: C -> 3C channels (input, conv1, conv2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv_lrelu(channels, channels)
        self.conv2 = _conv_lrelu(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y1 = self.conv1(x)
        y2 = self.conv2(torch.cat([x, y1], dim=1))
        return torch.cat([x, y1, y2], dim=1)


class GradientResidualBlock(nn.Module):
    """
    GRRB: dense path + 1x1-projected Sobel-magnitude path, summed, LeakyReLU.

    The Sobel branch has no weights (|d/dx| + |d/dy| per channel, via kornia)
    so edge information reaches deeper layers unchanged by training.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.dense = DenseBlock(cin)
        self.dense_proj = nn.Conv2d(3 * cin, cout, 1)
        self.grad_proj = nn.Conv2d(cin, cout, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = spatial_gradient(x, mode='sobel', order=1, normalized=False).abs().sum(dim=2)
        return self.act(self.dense_proj(self.dense(x)) + self.grad_proj(g))


# SeAFusion's decoder: ConvBN-LeakyReLU 96 -> 64 -> 32 -> 16, then to the image.
@register_backbone('seafusion',
                   decoder=lambda c, out: ConvDecoder(c, (64, 32, 16), out, batch_norm=True))
class SeAFusionBackbone(nn.Module):
    """Visible + thermal -> fused features (B, 2*widths[-1], H, W) at input resolution."""

    def __init__(self, in_channels: int = 3, widths: tuple[int, int, int] = (16, 32, 48)):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = 2 * widths[-1]

        def encoder() -> nn.Sequential:
            return nn.Sequential(
                _conv_lrelu(in_channels, widths[0]),
                GradientResidualBlock(widths[0], widths[1]),
                GradientResidualBlock(widths[1], widths[2]),
            )

        self.enc_vis = encoder()
        self.enc_ir = encoder()

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.enc_vis(visible), self.enc_ir(thermal)], dim=1)
