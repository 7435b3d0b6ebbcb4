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
  settings (Sec. 5), the option defaults and ``config/training/segmif.yaml``:
  8 rounds (``rounds``) of 5k fusion and 10k segmentation iterations; batch
  8, 360 px crops after random resizing 0.5-2.0 and brightness distortion
  (``data.augment``); Adam with "poly learning rate adjustment" for both
  networks: fusion from ``optim.lr`` = 1e-4 down to ``fusion_lr_end`` =
  1e-8, segmentation at ``seg_warmup_lr`` = 1e-6 for its first
  ``seg_warmup_steps`` = 3k iterations, then from ``seg_lr`` = 8e-5.

  SegMiF decisions (issue 19):

  - *Poly rates.* lr(k) = end + (base - end) (1 - k/K)^``lr_power``
    (:func:`training.loop.schedule.poly_lr`), k counting each network's own
    iterations over all rounds (the fusion network's in fusion phases, the
    segmenter's in segmentation phases), K = ``rounds`` x its phase length.
    Set on both optimizers before every step from the global step, so a
    resumed run gets the same rates. The paper gives no power: 1.0, the
    value of the authors' configs (``lr_power: 0`` keeps the rates
    constant). No end is given for segmentation: ``seg_lr_end`` 0, the
    plain poly rule. After the warm-up the segmenter's poly starts afresh
    from 8e-5 over the remaining K - 3k iterations ("then ... initial
    learning rate 8e-5"); the warm-up runs once, in round 0.
  - *Dynamic-factor history.* Eq. 8-9 act "at the phase of image fusion";
    the strategy's epoch history (``weighting_losses``) holds the mean
    L_seg of fusion-phase steps only (logged as ``loss_seg_fusion_phase``),
    never the segmentation phase's training loss, which is also logged as
    ``L_seg``. An epoch without fusion-phase L_seg adds nothing for seg.
  - *Segmenter initialisation.* ``segmenter_checkpoint``: a SegFormer
    checkpoint (Hugging Face folder, MiT-named SegFormer state dict, or an
    encoder-only ImageNet MiT state dict as the authors' code starts from)
    copied into the segmenter when the modules are built
    (:func:`training.models.pretrained_segformer.init_segformer`); null:
    random initialisation. Nothing is downloaded.
  - *SoAM keys and values* from the modality tokens F^m, as the prose
    says (``model.backbone_kwargs.soam_context: modality``; see
    :mod:`training.models.backbones.segmif`).
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
from training.loop.schedule import AlternatingSchedule, poly_lr


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
                 rounds: int = 8, lr_power: float = 1.0, fusion_lr_end: float = 1e-8,
                 seg_lr_end: float = 0.0, seg_warmup_steps: int = 3000,
                 seg_warmup_lr: float = 1e-6, segmenter_checkpoint: str | None = None,
                 **options: Any) -> None:
        super().__init__(cfg, **options)
        from training.losses import SegMiFFusionLoss

        channels = 'single' if cfg.model.in_channels == 1 else 'per_channel'
        self.loss = SegMiFFusionLoss(grad_weight, channels)
        self.first_round_fusion_only = bool(first_round_fusion_only)
        self.rounds, self.seg_warmup_steps = int(rounds), int(seg_warmup_steps)
        self.lr_power, self.seg_warmup_lr = float(lr_power), float(seg_warmup_lr)
        self.fusion_lr_end, self.seg_lr_end = float(fusion_lr_end), float(seg_lr_end)
        if self.rounds < 1 or self.seg_warmup_steps < 0 or self.lr_power < 0 or min(
                self.fusion_lr_end, self.seg_lr_end, self.seg_warmup_lr) < 0:
            raise TypeError('rounds must be >= 1; seg_warmup_steps, lr_power and the rates >= 0')
        self.segmenter_checkpoint = segmenter_checkpoint or None

    @classmethod
    def check_config(cls, cfg) -> None:
        from pathlib import Path

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
        ckpt = (cfg.framework_options or {}).get('segmenter_checkpoint')
        if ckpt and not Path(ckpt).exists():
            raise ConfigError(f'framework_options.segmenter_checkpoint: no such file or '
                              f'folder {ckpt}')

    def build_modules(self) -> dict[str, nn.Module | None]:
        modules = super().build_modules()
        if self.segmenter_checkpoint:
            from training.models.pretrained_segformer import init_segformer

            init_segformer(self.segmenter(modules), self.segmenter_checkpoint)
        return modules

    def learning_rates(self, step: int) -> dict[str, float]:
        """Return the poly rates of both optimizers at global step ``step`` (module doc)."""
        s, base = self.schedule, float(self.cfg.optim.lr)
        return {
            'fusion': poly_lr(s.phase_steps(step, 'fusion'), self.rounds * s.fusion_steps, base,
                              self.fusion_lr_end, self.lr_power),
            'seg': poly_lr(s.phase_steps(step, 'seg'), self.rounds * s.seg_steps,
                           base if self.seg_lr is None else self.seg_lr, self.seg_lr_end,
                           self.lr_power, self.seg_warmup_steps, self.seg_warmup_lr),
        }

    def train_step(self, batch, ctx: StepContext) -> dict[str, float]:
        rates = self.learning_rates(ctx.global_step)
        for name, lr in rates.items():
            opt = ctx.optimizers.get(name)
            for g in (opt.param_groups if opt is not None else ()):
                g['lr'] = lr
        rec = ctx.apply(self.step_losses(batch, ctx))
        if ctx.optimizers.get('seg') is not None:  # the trainer logs the fusion rate as lr
            rec['lr_seg'] = ctx.optimizers['seg'].param_groups[0]['lr']
        return rec

    def weighting_losses(self, epoch_means, stage: int) -> dict[str, float]:
        """Fusion-phase means only: L_fusion, and L_seg of the fusion steps (module doc)."""
        keys = {'fusion': 'train_L_fusion', 'seg': 'train_loss_seg_fusion_phase'}
        return {t: epoch_means[k] for t, k in keys.items() if k in epoch_means}

    def segmenter(self, modules) -> nn.Module:
        return modules['fusion'].backbone.segmenter

    def fusion_terms(self, fused, batch) -> dict:
        return self.loss(fused, batch['thermal'], batch['visible'])

    def fusion_step(self, fterms, seg_loss, round_: int) -> StepResult:
        if round_ == 0 and self.first_round_fusion_only:
            return StepResult({'fusion': fterms['total']}, self._terms(fterms), ('fusion',))
        ce = seg_loss()
        terms = self._terms(fterms, ce)
        terms['seg.fusion_phase'] = ce  # the dynamic factor's L_seg (weighting_losses)
        return StepResult({'fusion': fterms['total'], 'seg': ce}, terms, ('fusion',))


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
