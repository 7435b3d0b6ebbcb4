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
U-Net used as EMMA's pseudo-sensing module A (fused image -> one source image).

EMMA's A_i and A_v are plain U-Nets (max-pool down, transposed-conv up,
two 3x3 conv-BN-ReLU per level, sigmoid output), five levels with widths
64 ... 1024 (about 31 M parameters each). ``width`` and ``depth`` scale it
down for CPU runs. Sizes that are not multiples of 2^(depth-1) are padded
(replicate) and cropped back.
"""
from __future__ import annotations

import torch
from torch import nn, Tensor
import torch.nn.functional as F


__all__ = ['UNet']


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):

    def __init__(self, channels: int = 1, width: int = 64, depth: int = 5):
        super().__init__()
        if depth < 2:
            raise ValueError(f'depth must be >= 2, got {depth}')
        widths = [width * 2 ** i for i in range(depth)]
        self.depth = depth
        self.down = nn.ModuleList(
            _double_conv(a, b) for a, b in zip([channels] + widths[:-1], widths)
        )
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(widths[i + 1], widths[i], 4, 2, 1, bias=False), nn.ReLU()
            )
            for i in reversed(range(depth - 1))
        )
        self.merge = nn.ModuleList(
            _double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth - 1))
        )
        self.last = nn.Conv2d(widths[0], channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2 ** (self.depth - 1)
        x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode='replicate')
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([up(x), skip], dim=1))
        return torch.sigmoid(self.last(x))[..., :h, :w]
