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
Visual saliency map (VSM) weights and the saliency pseudo-fused image.

Bi-level dynamic learning (seed paper 003, Sec. 2.4) trains its
discriminator to tell the fused image u from a pseudo-fused image
u_m = m_1 x + m_2 y whose weight maps come from the VSM of Ma et al.
(Infrared Physics & Technology 82, 2017); CAF's search space (seed paper
002, Fig. 1) uses the same kind of saliency mask M for its masked L1/MSE
terms. Ma et al.'s VSM scores a pixel by its total contrast to every
other pixel of the image,

    V(p) = sum_q |I_p - I_q| = sum_j N_j |I_p - j|   (N_j: histogram, 256 levels),

normalised to [0, 1] by its maximum, and weights the two sources with
W = 0.5 + 0.5 (V_ir - V_vis) (their base-layer rule). Hence m_1 = W for the
infrared image and m_2 = 1 - W for the visible one: a pixel more salient in
the infrared image leans to the infrared image, and equal saliency gives
the plain average.

:func:`saliency_pixel_loss` is paper 003's saliency-weighted pixel error
(the warm-start loss and the pixel part of its upper objective).

Written by hand because no library in the stack computes it (OpenCV's
saliency module lives in opencv-contrib, which is not a dependency); the
histogram form costs one 256x256 table per image, on any device. Inputs
are intensities in [0, 1], (B, 1, H, W); colour images are reduced to
their luma (kornia ``rgb_to_ycbcr``) first. The maps are targets, not
trained through: they are computed without gradient.
"""
from __future__ import annotations

from kornia.color import rgb_to_ycbcr
import torch
from torch import Tensor


__all__ = ['LEVELS', 'to_luma', 'vsm_saliency', 'vsm_weights', 'pseudo_fused',
           'saliency_pixel_loss']

LEVELS = 256


def to_luma(x: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) Y; a one-channel image is returned as is."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f'expected 1 or 3 channels, got {tuple(x.shape)}')
    return rgb_to_ycbcr(x)[:, :1]


@torch.no_grad()
def vsm_saliency(image: Tensor) -> Tensor:
    """Ma et al.'s VSM of each image, (B, 1, H, W) in [0, 1] (a flat image scores 0)."""
    y = to_luma(image)
    b = y.shape[0]
    q = (y.clamp(0.0, 1.0) * (LEVELS - 1)).round().long().reshape(b, -1)
    hist = torch.zeros(b, LEVELS, dtype=torch.float64, device=y.device)
    hist.scatter_add_(1, q, torch.ones_like(q, dtype=torch.float64))
    levels = torch.arange(LEVELS, dtype=torch.float64, device=y.device)
    lut = hist @ (levels[:, None] - levels[None, :]).abs()        # (B, 256): sum_j N_j |k - j|
    v = torch.gather(lut, 1, q)
    peak = v.amax(dim=1, keepdim=True)
    v = torch.where(peak > 0, v / peak.clamp_min(1e-12), torch.zeros_like(v))
    return v.reshape(y.shape).to(y.dtype)


@torch.no_grad()
def vsm_weights(ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
    """(m_ir, m_vis) = (W, 1 - W), W = 0.5 + 0.5 (VSM(ir) - VSM(vis)), each (B, 1, H, W)."""
    w = 0.5 + 0.5 * (vsm_saliency(ir) - vsm_saliency(vis))
    return w, 1.0 - w


@torch.no_grad()
def pseudo_fused(ir: Tensor, vis: Tensor) -> Tensor:
    """u_m = m_1 x + m_2 y on luma (the discriminator's "real" sample in paper 003)."""
    m_ir, m_vis = vsm_weights(ir, vis)
    return m_ir * to_luma(ir) + m_vis * to_luma(vis)


def saliency_pixel_loss(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """
    Paper 003 Eq. 7's pixel part: ||sqrt(m_1)(u - x)||^2 + ||sqrt(m_2)(u - y)||^2, batch mean.

    Per image squared norms (sums over the pixels) as printed, not means: they set the balance
    against the critic's score, whose input gradient the penalty holds near unit norm per
    image. Weights as in :func:`vsm_weights`; differentiable in ``fused`` (the weights are not).
    """
    u, x, y = to_luma(fused), to_luma(ir), to_luma(vis)
    m_ir, m_vis = vsm_weights(x, y)
    per_image = (m_ir * (u - x) ** 2 + m_vis * (u - y) ** 2).flatten(1).sum(1)
    return per_image.mean()
