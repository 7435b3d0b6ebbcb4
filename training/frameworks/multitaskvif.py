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


__all__ = ['MultiTaskVIF']


@register_framework('multitaskvif')
class MultiTaskVIF(Framework):
    needs_labels = True
    weighting_tasks = ('fusion', 'seg')

    def __init__(self, cfg, seg_loss: bool = True, **options: Any) -> None:
        super().__init__(cfg, **options)
        self.use_seg_loss = bool(seg_loss)
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
        return {'fusion': fterms['total'], 'seg': seg['total']}
