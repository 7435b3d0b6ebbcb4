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
SSVIF fusion loss (Eq. 3) with MultiTaskVIF's per-channel terms (Sec. 3.4).

L_fusion = l1 L_int + l2 L_grad + l3 L_ssim + l4 L_color, default
(l1, l2, l3, l4) = (20, 20, 10, 20) (SSVIF App. B-A: SwinFusion's l1..l3,
l4 = 20 from Table VII; pass another l4 for that ablation).

Conventions (the papers leave these open; chosen here):

* Inputs are in [0, 1]. ``per_channel`` mode: fused and visible are RGB
  (B,3,H,W); thermal may be (B,1,H,W) and is broadcast to 3 channels.
* 1/HW ||.||_1 averaged over channels (MultiTaskVIF's E_i) and over the
  batch is simply the mean over all elements: that is what every term uses.
* Gradient: kornia ``sobel`` magnitude sqrt(gx^2 + gy^2 + eps), eps = 1e-6
  (kornia default, only there to keep the sqrt differentiable at 0), with the
  **un-normalised** 3x3 Sobel kernel (normalized=False: a ramp of slope s
  gives 8 s), which is the scale SwinFusion's l2 = 20 was tuned on, and
  kornia's replicated border. The loss compares |grad I_f| (a magnitude is
  already non-negative) with the element-wise max of the source magnitudes,
  per channel.
* SSIM: ``pytorch_msssim.ssim`` (data_range=1, 11x11 Gaussian window,
  sigma=1.5, K=(0.01, 0.03), valid convolution, mean over channels and
  batch); L_ssim is the mean over j in {ir, vis} of (1 - ssim(I_f, I_j)),
  i.e. MultiTaskVIF's 0.5/0.5 weights. Images smaller than 11 px are not
  Gaussian-filtered by pytorch_msssim (it warns): use crops >= 11 px.
* Colour: kornia ``rgb_to_ycbcr`` (Cb = (B-Y)*0.564 + .5, Cr = (R-Y)*0.713
  + .5); L_color is the mean over {Cb, Cr} of mean |I_f^c - I_vis^c|.
* ``single`` mode (ablation Exp. v, "channel size 3 -> 1"): the network
  fuses the Y channel only and the RGB output is Y_f recombined with the
  visible Cb/Cr. Colour on the recombined image equals the visible colour
  by construction (up to clipping), so it is identically ~0 with no useful
  gradient: the colour term is **dropped** (reported as 0, not added).
  Inputs are (B,1,H,W) luminance; 3-channel inputs are converted to Y with
  ``rgb_to_ycbcr`` first.
"""
from __future__ import annotations

from typing import Sequence

from kornia.color import rgb_to_ycbcr
from kornia.filters import sobel
from pytorch_msssim import ssim
import torch
from torch import nn, Tensor


__all__ = [
    'FusionLoss',
    'intensity_loss',
    'gradient_loss',
    'ssim_loss',
    'color_loss',
    'sobel_magnitude',
]

SOBEL_EPS = 1e-6


def sobel_magnitude(x: Tensor, eps: float = SOBEL_EPS) -> Tensor:
    """Per-channel sqrt(gx^2 + gy^2 + eps), un-normalised Sobel, replicate border."""
    return sobel(x, normalized=False, eps=eps)


def intensity_loss(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Mean |I_f - max(I_ir, I_vis)| over batch, channels and pixels."""
    return (fused - torch.maximum(ir, vis)).abs().mean()


def gradient_loss(fused: Tensor, ir: Tensor, vis: Tensor, eps: float = SOBEL_EPS) -> Tensor:
    """Mean | |grad I_f| - max(|grad I_ir|, |grad I_vis|) | (Sobel magnitude, per channel)."""
    target = torch.maximum(sobel_magnitude(ir, eps), sobel_magnitude(vis, eps))
    return (sobel_magnitude(fused, eps) - target).abs().mean()


def ssim_loss(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Mean over j in {ir, vis} of 1 - ssim(I_f, I_j) (data_range 1, 11x11, sigma 1.5)."""
    s_ir = ssim(fused, ir, data_range=1.0, size_average=True, win_size=11, win_sigma=1.5)
    s_vis = ssim(fused, vis, data_range=1.0, size_average=True, win_size=11, win_sigma=1.5)
    return 0.5 * ((1.0 - s_ir) + (1.0 - s_vis))


def color_loss(fused: Tensor, vis: Tensor) -> Tensor:
    """Mean over {Cb, Cr} of mean |I_f^c - I_vis^c| in kornia's YCbCr (RGB inputs)."""
    cbcr_f = rgb_to_ycbcr(fused)[:, 1:]
    cbcr_v = rgb_to_ycbcr(vis)[:, 1:]
    return (cbcr_f - cbcr_v).abs().mean()


def _to_y(x: Tensor) -> Tensor:
    return rgb_to_ycbcr(x)[:, :1] if x.shape[1] == 3 else x


class FusionLoss(nn.Module):
    """
    Weighted SSVIF fusion loss; ``forward`` returns a dict of terms and total.

    Keys: ``int``, ``grad``, ``ssim``, ``color`` (unweighted terms) and
    ``total`` = sum of lambda_i * term_i. See the module docstring for every
    convention.
    """

    MODES = ('per_channel', 'single')

    def __init__(
        self,
        lambdas: Sequence[float] = (20.0, 20.0, 10.0, 20.0),
        channels: str = 'per_channel',
        sobel_eps: float = SOBEL_EPS,
    ) -> None:
        super().__init__()
        if len(lambdas) != 4:
            raise ValueError('lambdas must be (l_int, l_grad, l_ssim, l_color)')
        if channels not in self.MODES:
            raise ValueError(f'channels must be one of {self.MODES}, got {channels!r}')
        self.lambdas = tuple(float(v) for v in lambdas)
        self.channels = channels
        self.sobel_eps = sobel_eps

    def _prepare(self, fused: Tensor, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        for name, t in (('fused', fused), ('ir', ir), ('vis', vis)):
            if t.dim() != 4:
                raise ValueError(f'{name} must be (B,C,H,W), got {tuple(t.shape)}')
        if self.channels == 'single':
            fused, ir, vis = _to_y(fused), _to_y(ir), _to_y(vis)
            if fused.shape[1] != 1 or ir.shape[1] != 1 or vis.shape[1] != 1:
                raise ValueError('single mode expects 1- or 3-channel inputs')
            return fused, ir, vis
        if fused.shape[1] != 3 or vis.shape[1] != 3:
            raise ValueError('per_channel mode expects RGB fused and visible images')
        if ir.shape[1] == 1:
            ir = ir.expand(-1, 3, -1, -1)
        elif ir.shape[1] != 3:
            raise ValueError('thermal image must have 1 or 3 channels')
        return fused, ir, vis

    def forward(self, fused: Tensor, ir: Tensor, vis: Tensor) -> dict[str, Tensor]:
        fused, ir, vis = self._prepare(fused, ir, vis)
        terms = {
            'int': intensity_loss(fused, ir, vis),
            'grad': gradient_loss(fused, ir, vis, self.sobel_eps),
            'ssim': ssim_loss(fused, ir, vis),
        }
        if self.channels == 'per_channel':
            terms['color'] = color_loss(fused, vis)
        else:
            terms['color'] = fused.new_zeros(())
        l1, l2, l3, l4 = self.lambdas
        total = l1 * terms['int'] + l2 * terms['grad'] + l3 * terms['ssim']
        if self.channels == 'per_channel':
            total = total + l4 * terms['color']
        terms['total'] = total
        return terms
