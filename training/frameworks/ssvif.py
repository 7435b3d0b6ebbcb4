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
SSVIF (and its fusion-loss-only ``original`` stand-in) as a framework.

Stage I trains F on L_fusion; after the first Stage-I epoch whose mean
fusion loss rises (or ``stage1_max_epochs``), Stage II adds the head H on
F's features and the SegFormer S on the fused image, trained with
L_fusion + omega_csc L_csc (SSVIF Eq. 2). The decisions on what the paper
leaves open are listed in ``training.trainer``'s docstring.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import nn
from training.frameworks.base import Framework, register_framework, StepContext, StepResult


__all__ = ['SSVIF', 'FusionLossOnly', 'stage_switch_due']


def stage_switch_due(stage1_means: list[float], stage1_max_epochs: int | None = None) -> bool:
    """Paper rule after a Stage-I epoch: last epoch-mean fusion loss > the one before (or cap)."""
    if stage1_max_epochs is not None and len(stage1_means) >= int(stage1_max_epochs):
        return True
    return len(stage1_means) >= 2 and stage1_means[-1] > stage1_means[-2]


def fusion_loss_for(cfg):
    """Build SSVIF's FusionLoss with the channel mode of ``cfg.model.in_channels``."""
    from training.losses import FusionLoss

    single = cfg.model.in_channels == 1
    return FusionLoss(cfg.loss.lambdas, channels='single' if single else 'per_channel')


@register_framework('ssvif')
class SSVIF(Framework):
    """Label-free: F, plus H and S when ``csc`` is on (SSVIF III-C)."""

    weighting_tasks = ('fusion', 'csc')

    def __init__(self, cfg, **options: Any) -> None:
        super().__init__(cfg, **options)
        from training.losses import CSCLoss

        self.fusion_loss = fusion_loss_for(cfg)
        self.csc_loss = CSCLoss(eps=cfg.loss.csc_eps)

    @property
    def branches(self) -> bool:
        return self.cfg.uses_branches

    def build_modules(self) -> dict[str, nn.Module | None]:
        modules = super().build_modules()
        modules['head'] = modules['seg'] = None
        if self.branches:
            from training.models import SegHead
            from training.models.segformer import SegmentationModel

            m = self.cfg.model
            modules['head'] = SegHead(modules['fusion'].out_channels, m.seg_classes,
                                      hidden=m.seg_head_hidden)
            modules['seg'] = SegmentationModel(m.segformer, m.seg_classes)
        return modules

    def tasks(self, stage: int) -> tuple[str, ...]:
        return ('fusion', 'csc') if stage == 2 else ('fusion',)

    def optimizer_params(self, modules, stage: int) -> dict[str, list[nn.Parameter]]:
        params = {'fusion': list(modules['fusion'].parameters())}
        if stage == 2:
            params['branches'] = list(modules['head'].parameters()) + list(
                modules['seg'].parameters()
            )
        return params

    def initial_stage(self) -> int:
        return 2 if (self.branches and not self.cfg.two_stage) else 1

    def next_stage(self, history: Sequence[Mapping[str, Any]], stage: int) -> int:
        if stage == 1 and self.branches:
            s1 = [h['train_L_fusion'] for h in history if h['stage'] == 1]
            if stage_switch_due(s1, self.cfg.stage1_max_epochs):
                return 2
        return stage

    def best_from_stage(self) -> int:
        return 2 if (self.branches and self.cfg.two_stage) else 1

    def step_losses(self, batch, ctx: StepContext) -> StepResult:
        vis, th = batch['visible'], batch['thermal']
        out = ctx.modules['fusion'](vis, th)
        fterms = self.fusion_loss(out.fused, th, vis)
        losses = {'fusion': fterms['total']}
        terms = {f'fusion.{k}': v for k, v in fterms.items() if k != 'total'}
        terms['fusion'] = fterms['total']
        optimizers: tuple[str, ...] = ('fusion',)
        if ctx.stage == 2:
            logits_a = ctx.modules['head'](out.features, size=tuple(vis.shape[-2:]))
            logits_b = ctx.modules['seg'](out.fused)
            csc = self.csc_loss(logits_a, logits_b)
            losses['csc'] = csc['total']
            terms.update(
                {'csc.hyb_a': csc['hyb_a'], 'csc.hyb_b': csc['hyb_b'], 'csc': csc['total']}
            )
            optimizers = ('fusion', 'branches')
        return StepResult(losses, terms, optimizers)

    def validation_losses(self, batch, ctx: StepContext) -> dict:
        vis, th = batch['visible'], batch['thermal']
        out = ctx.modules['fusion'](vis, th)
        res = {'fusion': self.fusion_loss(out.fused, th, vis)['total']}
        if ctx.stage == 2:
            la = ctx.modules['head'](out.features, size=tuple(vis.shape[-2:]))
            res['csc'] = self.csc_loss(la, ctx.modules['seg'](out.fused))['total']
        return res


@register_framework('original')
class FusionLossOnly(SSVIF):
    """SSVIF's fusion loss alone, no branches (the stand-in "Original" of earlier ablations)."""
