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
EMMA's losses (Zhao et al., CVPR 2024): pseudo-sensing fidelity and equivariance.

EMMA trains the fusion network F with two frozen pseudo-sensing networks
A_v, A_i that map a fused image back to each source (trained first, stage
one):

    L = l(A_v(F(v, i)), v) + l(A_i(F(v, i)), i) + alpha l(T f, F(A_v(T f), A_i(T f)))

with f = F(v, i), T a batch of random transformations (the fused image's
sensing must commute with them) and l(a, b) = |a - b|_1 + |grad a - grad b|_1
(means; grad = kornia's first-order Sobel ``spatial_gradient``), alpha = 0.1.
These are the values of EMMA's public training script; the paper states the
same structure.

:func:`equivariant_views` returns [x, shifted copies, rotated copies,
flipped copies] stacked on the batch axis (EMMA's defaults: 3 each, random
circular shifts, rotations by 10 + j 360/n degrees, horizontal, vertical,
both flips). Shifts draw from torch's global RNG, which the trainer seeds
per epoch, so a resumed run draws the same ones.
"""
from __future__ import annotations

from kornia.filters import spatial_gradient
from kornia.geometry.transform import rotate
import torch
from torch import Tensor
import torch.nn.functional as F


__all__ = ['equivariant_views', 'sensing_loss']


def sensing_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean |pred - target| + mean |grad pred - grad target| (Sobel, both directions)."""
    return F.l1_loss(pred, target) + F.l1_loss(spatial_gradient(pred), spatial_gradient(target))


def equivariant_views(x: Tensor, shifts: int = 3, rotations: int = 3, flips: int = 3) -> Tensor:
    """[x, shifts, rotations, flips] on the batch axis: (1 + shifts + rotations + flips) * B."""
    if not 0 <= flips <= 3:
        raise ValueError(f'flips must be 0..3, got {flips}')
    h, w = x.shape[-2:]
    views = [x]
    for _ in range(int(shifts)):
        dy = int(torch.randint(1, max(h, 2), (1,))) * (1 if torch.rand(1).item() < 0.5 else -1)
        dx = int(torch.randint(1, max(w, 2), (1,))) * (1 if torch.rand(1).item() < 0.5 else -1)
        views.append(torch.roll(x, shifts=(dy, dx), dims=(-2, -1)))
    for j in range(int(rotations)):
        angle = torch.full(
            (x.shape[0],), 10.0 + j * 360.0 / rotations, dtype=x.dtype, device=x.device
        )
        views.append(rotate(x, angle))
    flipped = [x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)]
    views.extend(flipped[:int(flips)])
    return torch.cat(views, dim=0)
