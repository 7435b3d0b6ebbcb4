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
Critic T_V of bi-level dynamic learning (seed paper 003): a PatchGAN without normalisation.

The paper builds its visual-quality discriminator after Isola et al.'s
PatchGAN and trains it as a Wasserstein critic with gradient penalty
(Gulrajani et al.). Two choices follow from WGAN-GP rather than from the
paper: no batch normalisation (the penalty is per sample, and batch
statistics would couple the samples it constrains; Gulrajani et al. drop
BN in the critic for this reason) and no sigmoid (a critic outputs an
unbounded score). The patch map is averaged to one score per image.
"""
from __future__ import annotations

import torch
from torch import nn


__all__ = ['PatchCritic']


class PatchCritic(nn.Module):
    """Image (B, C, H, W) -> score (B,): 4x4 stride-2 convs + LeakyReLU, then a 1-channel map."""

    def __init__(self, in_channels: int = 1, width: int = 32, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(depth):
            out = width * 2 ** i
            layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            c = out
        layers.append(nn.Conv2d(c, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.in_channels = in_channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image).mean(dim=(1, 2, 3))
