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
Segmentation head H for the feature-level branch of SSVIF (Section III-C).

Two 3x3 conv + BN + ReLU layers and a 1x1 conv to ``num_classes`` logits,
on the backbone's fused features. Features may be at lower resolution than
the image (the realtime backbone works at 1/2), so logits are bilinearly
resized to the size the loss needs.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


__all__ = ['SegHead']


class SegHead(nn.Module):

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64):
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, num_classes, 1),
        )

    def forward(self, features: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """(B, C, h, w) -> logits (B, num_classes, *size) (or (h, w) when ``size`` is None)."""
        logits = self.body(features)
        if size is not None and tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
        return logits
