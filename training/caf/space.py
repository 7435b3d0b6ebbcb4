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
CAF's search space of fusion losses (seed paper 002, Sec. 3.3 and Fig. 1).

The fusion loss is L^f = sum_i beta_i s_i L_i + sum_j c_j L_j over named
terms, beta = softmax(alpha) over the *searched* terms (alpha is what the
search learns; equal alphas start every term at the same weight), s_i an
optional fixed scale per term and c_j the fixed weights of terms that are
not searched. Terms (F fused, X a reference; all on luma, as CAF fuses
grey images):

===============  ======================================================
``l1_X``         mean |F - X|, X in {ir, vis, max} (max = max(I_ir, I_vis))
``l1_mask_ir``   mean |M F - M I_ir|      (M: VSM weight of the IR image)
``l1_mask_vis``  mean |M~ F - M~ I_vis|   (M~ = 1 - M)
``mse_*``        the same five with squared errors
``ssim_X``       1 - SSIM(F, X), X in {ir, vis} (11x11 Gaussian, sigma 1.5)
``grad_X``       mean | |grad F| - X |, X in {|grad I_ir|, |grad I_vis|, max of both}
``per_X``        perceptual loss to X in {ir, vis} (VGG-16; needs a weight file)
===============  ======================================================

Fig. 1 gives fifteen weights lambda_a..lambda_o: the two masked L1 terms
each get one (lambda_d, lambda_e), and the masked MSE row has none. The
authors' code matches: the masked MSE terms are a fixed anchor of 0.5
each, and the perceptual terms carry an extra 0.1. Those are the defaults
here (``FIXED_DEFAULT``, ``SCALES_DEFAULT``). ``SEARCHED_DEFAULT`` leaves
the perceptual terms out (13 searched terms): VGG-16 weights cannot be
downloaded here; add ``per_ir``/``per_vis`` with a weight file to search
them. Gradients use the project's Sobel magnitude
(``training.losses.fusion.sobel_magnitude``), the masks
``training.losses.saliency.vsm_weights``.
"""
from __future__ import annotations

import functools
from typing import Callable, Mapping, Sequence

from pytorch_msssim import ssim
import torch
from torch import nn, Tensor
from training.losses.fusion import sobel_magnitude
from training.losses.perceptual import PerceptualLoss
from training.losses.saliency import to_luma, vsm_weights
from training.registry import LOSS_TERMS


__all__ = ['TERMS', 'SEARCHED_DEFAULT', 'FIXED_DEFAULT', 'SCALES_DEFAULT', 'CAFLossSpace',
           'TermInputs']

SEARCHED_DEFAULT = ('l1_ir', 'l1_vis', 'l1_max', 'l1_mask_ir', 'l1_mask_vis', 'mse_ir', 'mse_vis',
                    'mse_max', 'ssim_ir', 'ssim_vis', 'grad_ir', 'grad_vis', 'grad_max')
FIXED_DEFAULT = {'mse_mask_ir': 0.5, 'mse_mask_vis': 0.5}
SCALES_DEFAULT = {'per_ir': 0.1, 'per_vis': 0.1}


def _ssim_loss(f: Tensor, x: Tensor) -> Tensor:
    return 1.0 - ssim(f, x, data_range=1.0, size_average=True, win_size=11, win_sigma=1.5)


class TermInputs:
    """
    What the terms of one step share: luma images, and VSM masks and gradients if needed.

    Made in one fixed order (references, masks, gradients) before any term,
    so the autograd graph, and with it every gradient bit, does not depend
    on which terms are used first.
    """

    def __init__(self, fused: Tensor, ir: Tensor, vis: Tensor, needs: set[str],
                 perceptual: PerceptualLoss | None = None):
        f, x_ir, x_vis = to_luma(fused), to_luma(ir), to_luma(vis)
        self.f, self.perceptual = f, perceptual
        self.refs = {'ir': x_ir, 'vis': x_vis, 'max': torch.maximum(x_ir, x_vis)}
        if 'masks' in needs:
            m_ir, m_vis = vsm_weights(x_ir, x_vis)
            self.masks = {'ir': (m_ir, x_ir), 'vis': (m_vis, x_vis)}
        if 'gradients' in needs:
            g_f = sobel_magnitude(f)
            g_ir, g_vis = sobel_magnitude(x_ir), sobel_magnitude(x_vis)
            self.grads = {'fused': g_f, 'ir': g_ir, 'vis': g_vis,
                          'max': torch.maximum(g_ir, g_vis)}


def _terms(kind: str, refs: Sequence[str], needs: tuple[str, ...] = ()) -> Callable:
    """Register ``fn(inputs, ref)`` as the terms ``KIND_REF`` in :data:`LOSS_TERMS`."""
    def register(fn: Callable[[TermInputs, str], Tensor]) -> Callable:
        for ref in refs:
            term = functools.partial(fn, ref=ref)
            term.needs = needs  # what TermInputs must prepare for it
            LOSS_TERMS.register(f'{kind}_{ref}', term)
        return fn
    return register


@_terms('l1', ('ir', 'vis', 'max'))
def _l1(s: TermInputs, ref: str) -> Tensor:
    return (s.f - s.refs[ref]).abs().mean()


@_terms('l1_mask', ('ir', 'vis'), needs=('masks',))
def _l1_mask(s: TermInputs, ref: str) -> Tensor:
    m, x = s.masks[ref]
    return (m * s.f - m * x).abs().mean()


@_terms('mse', ('ir', 'vis', 'max'))
def _mse(s: TermInputs, ref: str) -> Tensor:
    d = s.f - s.refs[ref]
    return (d * d).mean()


@_terms('mse_mask', ('ir', 'vis'), needs=('masks',))
def _mse_mask(s: TermInputs, ref: str) -> Tensor:
    m, x = s.masks[ref]
    d = m * s.f - m * x
    return (d * d).mean()


@_terms('ssim', ('ir', 'vis'))
def _ssim(s: TermInputs, ref: str) -> Tensor:
    return _ssim_loss(s.f, s.refs[ref])


@_terms('grad', ('ir', 'vis', 'max'), needs=('gradients',))
def _grad(s: TermInputs, ref: str) -> Tensor:
    return (s.grads['fused'] - s.grads[ref]).abs().mean()


@_terms('per', ('ir', 'vis'))
def _perceptual(s: TermInputs, ref: str) -> Tensor:
    return s.perceptual(s.f, s.refs[ref])


#: every term, in registration order (the Fig. 1 order)
TERMS = LOSS_TERMS.registered()


class CAFLossSpace(nn.Module):
    """Named loss terms and their beta-weighted sum; see the module docstring."""

    def __init__(self, searched: Sequence[str] = SEARCHED_DEFAULT,
                 fixed: Mapping[str, float] | None = None,
                 scales: Mapping[str, float] | None = None,
                 perceptual: PerceptualLoss | None = None):
        super().__init__()
        fixed = dict(FIXED_DEFAULT if fixed is None else fixed)
        scales = {**SCALES_DEFAULT, **dict(scales or {})}
        self.searched = tuple(searched)
        if not self.searched:
            raise ValueError('the search space needs at least one searched term')
        unknown = sorted((set(self.searched) | set(fixed) | set(scales)) - set(TERMS))
        if unknown:
            raise ValueError(
                f'unknown loss term(s) {", ".join(unknown)}; known: {", ".join(TERMS)}'
            )
        dup = sorted(set(self.searched) & set(fixed))
        if dup or len(set(self.searched)) != len(self.searched):
            raise ValueError(
                f'a term is searched twice or both searched and fixed: {dup or self.searched}'
            )
        needs_per = [t for t in (*self.searched, *fixed) if t.startswith('per_')]
        if needs_per and perceptual is None:
            raise ValueError(f'terms {needs_per} need VGG-16 weights (space.perceptual_weights)')
        self.fixed = {k: float(v) for k, v in fixed.items()}
        self.scales = {k: float(v) for k, v in scales.items()}
        self.perceptual = perceptual

    @property
    def used(self) -> tuple[str, ...]:
        return self.searched + tuple(k for k in self.fixed if k not in self.searched)

    def terms(self, fused: Tensor, ir: Tensor, vis: Tensor) -> dict[str, Tensor]:
        """Every used term (unweighted, scalar) for fused/thermal/visible images in [0, 1]."""
        terms = {name: LOSS_TERMS.lookup(name) for name in self.used}
        needs = {n for term in terms.values() for n in term.needs}
        inputs = TermInputs(fused, ir, vis, needs, self.perceptual)
        return {name: term(inputs) for name, term in terms.items()}

    def total(self, terms: Mapping[str, Tensor], beta: Tensor) -> Tensor:
        """sum_i beta_i s_i L_i over the searched terms + sum_j c_j L_j over the fixed ones."""
        if beta.shape != (len(self.searched),):
            raise ValueError(
                f'beta must have {len(self.searched)} entries, got {tuple(beta.shape)}'
            )
        out = sum(
            beta[i] * self.scales.get(n, 1.0) * terms[n] for i, n in enumerate(self.searched)
        )
        return out + sum(c * terms[n] for n, c in self.fixed.items())

    @staticmethod
    def beta(alpha: Tensor) -> Tensor:
        """Return beta = softmax(alpha) (the search's parameterisation)."""
        return torch.softmax(alpha, dim=0)

    def loss(self, fused: Tensor, ir: Tensor, vis: Tensor, beta: Tensor) -> Tensor:
        return self.total(self.terms(fused, ir, vis), beta)
