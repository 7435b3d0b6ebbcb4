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
MultiTaskVIF (Zhao, Howes, Zhang): one model, one stage, fusion + supervised segmentation.

The fusion model's decoder is the multi-task head (``model.decoder: mth``,
``training.models.multitask``); the total loss is Eq. 2,
L_total = beta_1 L_fusion + beta_2 L_seg, with L_fusion SSVIF's Eq. 3
(the same four terms and lambdas (20, 20, 10, 20)) and L_seg = CE + Dice on
the labels (``training.losses.segmentation``). beta_1 = beta_2 = 1 is the
``fixed`` weighting with ``omega_csc: 1`` (the auxiliary task's multiplier;
``config/training/multitaskvif.yaml``); any other weighting strategy
applies unchanged. The paper's settings (Sec. 4.1): Adam, 100 epochs,
early stopping with patience 10, 9:1 split; variant I (SwinFusion
backbone) lr 1e-4, 160 px crops, batch 10; variants II-IV (EMMA's U-Fuser,
SeAFusion, SegMiF backbones) lr 0.5e-4, 256 px crops, batch 16.

Options (``framework_options``): ``seg_loss: false`` is ablation Exp. iii
(w/o L_seg: the head's segmentation branch then gets no training signal).
HIA-F on/off is ``model.decoder_kwargs.hia`` (Exp. ii), w/o L_color is
``loss.lambdas`` (Exp. iv), channels 3 -> 1 is ``model.in_channels`` (Exp. v).

Early stopping and best checkpoint (``select_on``, default ``total``). The
paper (Sec. 4.1) trains "within the early stopping technique (patience ...
10 epochs)" without naming the monitored loss; the one objective it trains
is Eq. 2, so the selection is on the validation L_total, that is
beta_1 L_fusion + beta_2 L_seg (logged as ``val_L_total``, the best as
``best_val_L_total``). beta_1, beta_2 are the ``fixed`` weighting's
multipliers (``fusion``, ``omega_csc``: 1 and 1 in the configs); with any
other weighting, whose multipliers move during training, the paper's
(1, 1). With ``seg_loss: false`` L_total is beta_1 L_fusion.
``select_on: fusion`` selects on the validation L_fusion alone, as every
other framework does (the behaviour before this option).

Head size (Table 7, 3-channel input, MACs at 256x256; the paper's "FLOPs"
are MACs, see ``training.models.multitask``). Over the plain decoder the
MTH adds, measured with ``training.models.complexity``:

=======  ==========  =============================  ==============================
variant  MTH width   ours: total (+ over decoder)   Table 7 (+ over the backbone)
=======  ==========  =============================  ==============================
I        128         1.70 M (+0.74), 119.8 G        2.47 M (+0.76 over its SwinF.)
II       128         2.08 M (+0.57), 46.6 G         2.13 M (+0.62), 49.08 G
III      128         0.95 M (+0.79), 63.3 G         0.93 M (+0.76), 60.84 G
IV       112         1.28 M (+0.59), 82.2 G         1.28 M (+0.59), 83.83 G
=======  ==========  =============================  ==============================

Variant I's total is lower because the paper counts SwinFusion at 1.71 M
(ours: 0.96 M, as SSVIF Table IV's 0.97 M); its increment matches. Table
7's 125.26 G for I is also only 1.23 G above its own SwinF. row, which no
full-resolution head of +0.76 M can add; ours adds 49.5 G (119.8 G in
all). ``model.decoder_kwargs.width: backbone`` is the earlier compact
head, adding 0.19, 0.01, 0.47 and 0.21 M for I-IV.

Gradient analysis (``grad_analysis``) measures the two task gradients over
the backbone, the parameters both tasks share (the paper's Sec. 4.7); they
are logged as ``alpha_seg_f`` (projection of the segmentation gradient onto
the fusion gradient) and ``cos_seg_f``.
"""
from __future__ import annotations

from typing import Any

from torch import nn
from training.frameworks.base import Framework, register_framework, StepContext, StepResult
from training.frameworks.ssvif import fusion_loss_for


__all__ = ['MultiTaskVIF', 'eq2_betas']


@register_framework('multitaskvif')
class MultiTaskVIF(Framework):
    needs_labels = True
    weighting_tasks = ('fusion', 'seg')

    def __init__(self, cfg, seg_loss: bool = True, select_on: str = 'total',
                 **options: Any) -> None:
        super().__init__(cfg, **options)
        if select_on not in ('total', 'fusion'):
            raise TypeError(f"select_on must be 'total' or 'fusion', got {select_on!r}")
        self.use_seg_loss = bool(seg_loss)
        self.select_on = select_on
        self.selection_name = 'L_total' if select_on == 'total' else 'L_fusion'
        self.betas = eq2_betas(cfg)
        self.fusion_loss = fusion_loss_for(cfg)

    @classmethod
    def check_config(cls, cfg) -> None:
        from training.config import ConfigError

        if cfg.model.decoder != 'mth':
            raise ConfigError(
                'framework multitaskvif needs model.decoder: mth (the multi-task head)'
            )

    def tasks(self, stage: int) -> tuple[str, ...]:
        return ('fusion', 'seg') if self.use_seg_loss else ('fusion',)

    def shared_parameters(self, modules) -> list[nn.Parameter]:
        return list(modules['fusion'].backbone.parameters())

    def _forward(self, batch, ctx: StepContext):
        from training.losses import supervised_seg_loss

        vis, th = batch['visible'], batch['thermal']
        out, seg_logits = ctx.modules['fusion'].forward_tasks(vis, th)
        fterms = self.fusion_loss(out.fused, th, vis)
        seg = supervised_seg_loss(seg_logits, batch['label'])
        return fterms, seg

    def step_losses(self, batch, ctx: StepContext) -> StepResult:
        fterms, seg = self._forward(batch, ctx)
        terms = {f'fusion.{k}': v for k, v in fterms.items() if k != 'total'}
        terms['fusion'] = fterms['total']
        terms.update({'seg.ce': seg['ce'], 'seg.dice': seg['dice'], 'seg': seg['total']})
        losses = {'fusion': fterms['total']}
        if self.use_seg_loss:
            losses['seg'] = seg['total']
        return StepResult(losses, terms, ('fusion',))

    def validation_losses(self, batch, ctx: StepContext) -> dict:
        fterms, seg = self._forward(batch, ctx)
        return {'fusion': fterms['total'], 'seg': seg['total'],
                'total': self.total(fterms['total'], seg['total'])}

    def total(self, fusion, seg):
        """Eq. 2: beta_1 L_fusion + beta_2 L_seg (beta_1 L_fusion with ``seg_loss: false``)."""
        beta_1, beta_2 = self.betas
        return beta_1 * fusion + beta_2 * seg if self.use_seg_loss else beta_1 * fusion

    def selection_value(self, means) -> float | None:
        """Return the validation L_total (module docstring), else the training one."""
        if self.select_on == 'fusion':
            return super().selection_value(means)
        for split in ('val', 'train'):
            fusion, seg = means.get(f'{split}_L_fusion'), means.get(f'{split}_L_seg')
            if fusion is not None and (seg is not None or not self.use_seg_loss):
                return self.total(fusion, seg)
        return None


def eq2_betas(cfg) -> tuple[float, float]:
    """Return Eq. 2's (beta_1, beta_2): the ``fixed`` weighting's multipliers, else (1, 1)."""
    from training.weighting.fixed import FixedWeighting

    if str(cfg.weighting.name).lower() != 'fixed':
        return 1.0, 1.0
    opts = dict(cfg.weighting.options or {})
    fixed = FixedWeighting(**{k: opts[k] for k in ('fusion', 'omega_csc') if k in opts})
    return fixed.fusion, fixed.omega_csc
