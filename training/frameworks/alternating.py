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
Cascaded fusion + segmentation in alternating rounds: SegMiF, and SeAFusion's own training.

Both methods alternate (``training.loop.schedule``): a fusion phase
trains the fusion network with its fusion loss plus the cross-entropy of a
frozen segmentation network on the fused image; a segmentation phase trains
that network on the fused images of the frozen fusion network. Only the
losses, where the segmenter lives and how the two losses are weighted differ.

* ``segmif`` (Liu et al., ICCV 2023): the network is the ``segmif``
  backbone with ``semantic: segformer``; its SegFormer (whose encoder also
  feeds HIA) is the segmenter. Fusion loss: ``SegMiFFusionLoss``. The two
  losses of a fusion phase are weighted by the configured strategy; SegMiF's
  is the dynamic factor with task preference (``weighting.name: segmif``,
  native multipliers lambda_1, lambda_2 of Eq. 7). Round 0's fusion phase
  trains the fusion loss alone (``first_round_fusion_only``), as the
  authors' script does: the segmenter has not been trained yet. Paper
  settings: fusion lr 1e-4, segmentation lr 8e-5 (``seg_lr``); 8 rounds of
  5k fusion and 10k segmentation iterations; batch 8, 360 px crops.
* ``original_seafusion`` (Tang et al., 2022): any backbone (``seafusion``
  for Table III); the segmenter is a separate ``SegmentationModel``
  (``model.segformer``; SeAFusion's own is a BiSeNet, so its auxiliary head
  and OHEM are absent). Fusion loss L_int + 10 L_grad on the luma
  (``FusionLoss`` with lambdas (1, 10, 0, 0)); joint loss
  L_fusion + beta L_seg with beta = the round index (0, 1, 2, 3 in its
  4-round script), the method's own rule, so the configured weighting
  strategy is not used.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from training.frameworks.base import Framework, register_framework, StepContext, StepResult
from training.loop.schedule import AlternatingSchedule


__all__ = ['CascadedFramework', 'SegMiF', 'OriginalSeAFusion']


class CascadedFramework(Framework):
    needs_labels = True
    weighting_tasks = ('fusion', 'seg')

    def __init__(self, cfg, fusion_steps: int = 5000, seg_steps: int = 10000,
                 seg_lr: float | None = None, **options: Any) -> None:
        super().__init__(cfg, **options)
        self.schedule = AlternatingSchedule(int(fusion_steps), int(seg_steps))
        self.seg_lr = None if seg_lr is None else float(seg_lr)

    # -- to define -------------------------------------------------------------
    def segmenter(self, modules) -> nn.Module:
        raise NotImplementedError

    def fusion_terms(self, fused, batch) -> dict:
        raise NotImplementedError

    def fusion_step(self, fusion_terms: dict, seg_loss, round_: int) -> StepResult:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------
    def tasks(self, stage: int) -> tuple[str, ...]:
        return ('fusion', 'seg')

    def _fusion_params(self, modules) -> list[nn.Parameter]:
        seg_ids = {id(p) for p in self.segmenter(modules).parameters()}
        return [p for p in modules['fusion'].parameters() if id(p) not in seg_ids]

    def optimizer_params(self, modules, stage: int) -> dict[str, list[nn.Parameter]]:
        return {
            'fusion': self._fusion_params(modules),
            'seg': list(self.segmenter(modules).parameters()),
        }

    def optimizer_lr(self, name: str) -> float | None:
        return self.seg_lr if name == 'seg' else None

    def shared_parameters(self, modules) -> list[nn.Parameter]:
        return self._fusion_params(modules)

    def _seg_ce(self, segmenter: nn.Module, fused, label):
        from training.losses import supervised_seg_loss

        return supervised_seg_loss(segmenter(fused), label, dice=False)['ce']

    def step_losses(self, batch, ctx: StepContext) -> StepResult:
        segmenter = self.segmenter(ctx.modules)
        phase, round_ = self.schedule.phase(ctx.global_step), self.schedule.round(ctx.global_step)
        if phase == 'seg':
            segmenter.requires_grad_(True)
            with torch.no_grad():
                fused = ctx.modules['fusion'](batch['visible'], batch['thermal']).fused
            ce = self._seg_ce(segmenter, fused, batch['label'])
            return StepResult({'seg': ce}, {'seg': ce}, ('seg',))
        segmenter.requires_grad_(False)  # frozen: its gradients would be computed for nothing
        fused = ctx.modules['fusion'](batch['visible'], batch['thermal']).fused
        fterms = self.fusion_terms(fused, batch)
        return self.fusion_step(
            fterms, lambda: self._seg_ce(segmenter, fused, batch['label']), round_
        )

    def validation_losses(self, batch, ctx: StepContext) -> dict:
        fused = ctx.modules['fusion'](batch['visible'], batch['thermal']).fused
        return {'fusion': self.fusion_terms(fused, batch)['total'],
                'seg': self._seg_ce(self.segmenter(ctx.modules), fused, batch['label'])}

    @staticmethod
    def _terms(fterms: dict, ce=None) -> dict:
        terms = {f'fusion.{k}': v for k, v in fterms.items() if k != 'total'}
        terms['fusion'] = fterms['total']
        if ce is not None:
            terms['seg'] = ce
        return terms


@register_framework('segmif')
class SegMiF(CascadedFramework):
    def __init__(self, cfg, grad_weight: float = 1.0, first_round_fusion_only: bool = True,
                 **options: Any) -> None:
        super().__init__(cfg, **options)
        from training.losses import SegMiFFusionLoss

        channels = 'single' if cfg.model.in_channels == 1 else 'per_channel'
        self.loss = SegMiFFusionLoss(grad_weight, channels)
        self.first_round_fusion_only = bool(first_round_fusion_only)

    @classmethod
    def check_config(cls, cfg) -> None:
        from training.config import ConfigError

        m = cfg.model
        kw = m.backbone_kwargs or {}
        if m.backbone != 'segmif' or kw.get('semantic') != 'segformer':
            raise ConfigError('framework segmif needs model.backbone: segmif with '
                              'model.backbone_kwargs.semantic: segformer')
        if int(kw.get('num_classes', 15)) != int(m.seg_classes):
            raise ConfigError(
                f'model.backbone_kwargs.num_classes ({kw.get("num_classes", 15)}) must '
                f'equal model.seg_classes ({m.seg_classes})'
            )
        if m.decoder != 'default':
            raise ConfigError(
                "framework segmif uses SegMiF's own decoder (model.decoder: default)"
            )

    def segmenter(self, modules) -> nn.Module:
        return modules['fusion'].backbone.segmenter

    def fusion_terms(self, fused, batch) -> dict:
        return self.loss(fused, batch['thermal'], batch['visible'])

    def fusion_step(self, fterms, seg_loss, round_: int) -> StepResult:
        if round_ == 0 and self.first_round_fusion_only:
            return StepResult({'fusion': fterms['total']}, self._terms(fterms), ('fusion',))
        ce = seg_loss()
        return StepResult(
            {'fusion': fterms['total'], 'seg': ce}, self._terms(fterms, ce), ('fusion',)
        )


@register_framework('original_seafusion')
class OriginalSeAFusion(CascadedFramework):

    def __init__(self, cfg, **options: Any) -> None:
        super().__init__(cfg, **options)
        from training.losses import FusionLoss

        channels = 'single' if cfg.model.in_channels == 1 else 'per_channel'
        self.loss = FusionLoss((1.0, 10.0, 0.0, 0.0), channels=channels)

    def build_modules(self) -> dict[str, nn.Module | None]:
        from training.models.segformer import SegmentationModel

        modules = super().build_modules()
        modules['seg'] = SegmentationModel(self.cfg.model.segformer, self.cfg.model.seg_classes)
        return modules

    def segmenter(self, modules) -> nn.Module:
        return modules['seg']

    def fusion_terms(self, fused, batch) -> dict:
        terms = self.loss(fused, batch['thermal'], batch['visible'])
        return {'int': terms['int'], 'grad': terms['grad'], 'total': terms['total']}

    def fusion_step(self, fterms, seg_loss, round_: int) -> StepResult:
        if round_ == 0:  # beta = 0: SeAFusion's first round is the fusion loss alone
            return StepResult({'fusion': fterms['total']}, self._terms(fterms), ('fusion',))
        ce = seg_loss()
        return StepResult(
            {'fusion': fterms['total'], 'seg': ce},
            self._terms(fterms, ce),
            ('fusion',),
            weights={'fusion': 1.0, 'seg': float(round_)},
        )
