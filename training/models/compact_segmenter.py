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

    def __init__(self, num_classes: int = 15, width: int = 24):
        super().__init__()
        self.variant = 'compact'
        self.num_classes = num_classes
        w = width
        self.enc = nn.ModuleList([_block(3, w, 2), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 2)])
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
