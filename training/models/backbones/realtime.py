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
Real-time backbone for the vehicle (our design, not from a paper).

Budget: at most 1/5 of SeAFusion's multiply-accumulates at 640x480. All
work happens at half resolution or below:

* each modality is folded losslessly into channels with a 2x2
  space-to-depth (PixelUnshuffle), so the stride costs no detail;
* a 3x3 conv mixes both modalities (early fusion at half resolution);
* depthwise-separable residual blocks at 1/2 and 1/4 resolution, the 1/4
  branch adding context and being upsampled back;
* features are (B, width, ceil(H/2), ceil(W/2)); the decoder pixel-shuffles
  back to full resolution.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .spec import register_backbone
from ..decoder import ConvDecoder


__all__ = ['DSBlock', 'RealtimeBackbone']


class DSBlock(nn.Module):
    """
    Residual depthwise 3x3 + pointwise 1x1 (+BN, ReLU).

    ~C^2 + 9C MACs per pixel instead of 9C^2.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn(self.pw(self.dw(x))))


def _conv_bn_relu(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


# Half-resolution features: one conv, then pixel-shuffle to full resolution.
@register_backbone('realtime', decoder=lambda c, out: ConvDecoder(c, (16,), out, upscale=2))
class RealtimeBackbone(nn.Module):
    """Visible + thermal -> fused features at half resolution (any H, W; odd sizes are padded)."""

    def __init__(self, in_channels: int = 3, width: int = 32, context_width: int = 64,
                 blocks: int = 2, context_blocks: int = 2):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = width
        self.unshuffle = nn.PixelUnshuffle(2)
        self.stem = _conv_bn_relu(2 * 4 * in_channels, width)
        self.local = nn.Sequential(*(DSBlock(width) for _ in range(blocks)))
        self.down = nn.Sequential(  # depthwise stride-2 then pointwise widening
            nn.Conv2d(width, width, 3, stride=2, padding=1, groups=width, bias=False),
            nn.Conv2d(width, context_width, 1, bias=False),
            nn.BatchNorm2d(context_width),
            nn.ReLU(inplace=True),
        )
        self.context = nn.Sequential(*(DSBlock(context_width) for _ in range(context_blocks)))
        self.up = nn.Conv2d(context_width, width, 1)
        self.out = DSBlock(width)

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        h, w = visible.shape[-2:]
        pad = (0, w % 2, 0, h % 2)  # always applied (maybe 0) so export is not pinned to a parity
        x = torch.cat([self.unshuffle(F.pad(visible, pad, mode='replicate')),
                       self.unshuffle(F.pad(thermal, pad, mode='replicate'))], dim=1)
        x = self.local(self.stem(x))
        c = self.up(self.context(self.down(x)))
        c = F.interpolate(c, size=x.shape[-2:], mode='bilinear', align_corners=False)
        return self.out(x + c)
