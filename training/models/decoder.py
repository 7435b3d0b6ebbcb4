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
Image decoder D: fused features -> fused-image logits.

One small conv stack serves every backbone (only widths differ), so the
trainer can treat D uniformly. It returns logits; :class:`FusionModel`
applies the sigmoid, which keeps the [0, 1] guarantee in one place. With
``upscale > 1`` the last conv predicts ``out_channels * upscale**2``
channels and a pixel shuffle (ONNX DepthToSpace) restores full resolution,
which is how low-resolution backbones stay cheap.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


__all__ = ['ConvDecoder']


class ConvDecoder(nn.Module):
    """3x3 conv (+BN) + LeakyReLU for each width in ``hidden``, then a 3x3 conv to the output."""

    def __init__(self, in_channels: int, hidden: Sequence[int], out_channels: int = 3,
                 batch_norm: bool = False, upscale: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for h in hidden:
            layers.append(nn.Conv2d(c, h, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(h))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = h
        layers.append(nn.Conv2d(c, out_channels * upscale * upscale, 3, padding=1))
        if upscale > 1:
            layers.append(nn.PixelShuffle(upscale))
        self.body = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.upscale = upscale

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features)
