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
A small convolutional segmenter for CPU-only vehicles and the demo.

The paper's protocol segments fused images with SegFormer-B3, which costs
~90 GMACs per 640x480 frame and, trained from scratch, needs many thousand
steps before its masks mean anything. A CPU vehicle (or a ten-minute demo)
cannot afford either, so this encoder-decoder with skip connections offers
the same interface (image in [0, 1] -> logits at input size) at a fraction
of the cost; convolutions also learn from few steps. Select it with
``SegmenterConfig(variant="compact")``.

``ContextSegmenter`` (``variant="context"``) is the one shipped for real
images: one more stride-2 stage with dilated depthwise-separable blocks and
a global-pool context, because a stride-8 network with two convolutions per
stage sees ~40 px of a 320x240 input, too little to tell a warm road from a
warm person or the sky from a bright wall; depthwise-separable blocks buy
that context for a fraction of a full convolution's cost on a CPU.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CompactSegmenter(nn.Module):
    """Three stride-2 stages down, bilinear upsampling with skips back up."""

    def __init__(self, num_classes: int = 15, width: int = 24, in_channels: int = 3):
        super().__init__()
        self.variant = 'compact'
        self.num_classes = num_classes
        self.in_channels = in_channels
        w = width
        self.enc = nn.ModuleList([_block(in_channels, w, 2), _block(w, 2 * w, 2),
                                  _block(2 * w, 4 * w, 2)])
        self.dec = nn.ModuleList([_block(4 * w + 2 * w, 2 * w), _block(2 * w + w, w)])
        self.classifier = nn.Conv2d(w, num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image - 0.5
        skips = []
        for stage in self.enc:
            x = stage(x)
            skips.append(x)
        for stage, skip in zip(self.dec, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode='bilinear', align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        return F.interpolate(
            self.classifier(x), size=image.shape[-2:], mode='bilinear', align_corners=False
        )


def _cbr(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _SeparableResidual(nn.Module):
    """x + pointwise(depthwise(x)): a 3x3 (dilated) view at a 1x1 convolution's cost."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, 1, dilation, dilation=dilation,
                            groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn2(self.pw(F.relu(self.bn1(self.dw(x))))))


class ContextSegmenter(nn.Module):
    """Four stride-2 stages (to 1/16), dilated context and a global pool, decoded to 1/4."""

    def __init__(self, num_classes: int = 15, width: int = 24, in_channels: int = 3):
        super().__init__()
        self.variant = 'context'
        self.num_classes = num_classes
        self.in_channels = in_channels
        w = width
        self.stem = nn.Sequential(_cbr(in_channels, w, 2), _cbr(w, w))                        # 1/2
        self.enc2 = nn.Sequential(_cbr(w, 2 * w, 2), _cbr(2 * w, 2 * w))            # 1/4
        self.enc3 = nn.Sequential(_cbr(2 * w, 4 * w, 2), _SeparableResidual(4 * w),
                                  _SeparableResidual(4 * w))                        # 1/8
        self.enc4 = nn.Sequential(_cbr(4 * w, 6 * w, 2), _SeparableResidual(6 * w),
                                  _SeparableResidual(6 * w, 2),
                                  _SeparableResidual(6 * w, 4))                     # 1/16
        self.context = nn.Conv2d(6 * w, 6 * w, 1)
        self.fuse3 = nn.Sequential(_cbr(10 * w, 4 * w, kernel=1), _SeparableResidual(4 * w))
        self.fuse2 = nn.Sequential(_cbr(6 * w, 2 * w, kernel=1), _SeparableResidual(2 * w))
        self.classifier = nn.Conv2d(2 * w, num_classes, 1)

    def encoder_modules(self) -> list[nn.Module]:
        """Return the downsampling stages (what ``freeze_epochs`` freezes)."""
        return [self.stem, self.enc2, self.enc3, self.enc4]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        s2 = self.enc2(self.stem(image - 0.5))
        s3 = self.enc3(s2)
        s4 = self.enc4(s3)
        s4 = s4 + self.context(s4.mean(dim=(2, 3), keepdim=True))
        x = F.interpolate(s4, size=s3.shape[-2:], mode='bilinear', align_corners=False)
        x = self.fuse3(torch.cat([x, s3], dim=1))
        x = F.interpolate(x, size=s2.shape[-2:], mode='bilinear', align_corners=False)
        x = self.fuse2(torch.cat([x, s2], dim=1))
        return F.interpolate(
            self.classifier(x), size=image.shape[-2:], mode='bilinear', align_corners=False
        )
