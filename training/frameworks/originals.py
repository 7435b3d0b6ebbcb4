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
Table III Exp. i "Original" rows: SwinFusion's and EMMA's own trainings.

SeAFusion's is in ``training.frameworks.alternating``.

Each is the method's training, not its network: any backbone can be
trained this way, and the config files pair them (``config/training/
original_*.yaml``: the method's backbone, ``model.in_channels: 1`` as the
originals fuse the luma, and the method's own loss).

* ``original_swinfusion`` (Ma et al., 2022): 20 L_int + 20 L_grad +
  10 L_ssim with equal SSIM weights, on the luma; SSVIF's ``FusionLoss``
  with lambdas (20, 20, 10, 0) is exactly that loss, so it is reused.
  (SwinFusion's released code weighs the two SSIM terms by the sources'
  mean gradient; the paper's 0.5/0.5 is used here.)
* ``original_emma`` (Zhao et al., 2024), two stages, three networks:
  stage 1 trains the pseudo-sensing U-Nets A_v, A_i (``sense_vis``,
  ``sense_ir``) with MSE to map fused images back to each source; stage 2
  trains F with ``training.losses.emma`` (alpha = 0.1) and A frozen. EMMA
  trains A on the fusion results of two published methods; none is
  available here, so A learns from two parameter-free fusions of each
  batch, the mean and the per-pixel maximum of the sources (our stand-in).
  ``sensing_epochs`` (default 1) is the length of stage 1; the equivariance
  views default to EMMA's 3 shifts, 3 rotations, 3 flips.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from kornia.color import rgb_to_ycbcr
import torch
from torch import nn
import torch.nn.functional as F
from training.frameworks.base import Framework, register_framework, StepContext, StepResult
from training.frameworks.ssvif import FusionLossOnly


__all__ = ['OriginalSwinFusion', 'OriginalEMMA']


@register_framework('original_swinfusion')
class OriginalSwinFusion(FusionLossOnly):

    def __init__(self, cfg, **options: Any) -> None:
        super().__init__(cfg, **options)
        from training.losses import FusionLoss

        single = cfg.model.in_channels == 1
        self.fusion_loss = FusionLoss(
            (20.0, 20.0, 10.0, 0.0), channels='single' if single else 'per_channel'
        )


@register_framework('original_emma')
class OriginalEMMA(Framework):
    def __init__(
        self,
        cfg,
        sensing_epochs: int = 1,
        sensing_width: int = 64,
        sensing_depth: int = 5,
        alpha: float = 0.1,
        shifts: int = 3,
        rotations: int = 3,
        flips: int = 3,
        **options: Any,
    ) -> None:
        super().__init__(cfg, **options)
        if int(sensing_epochs) < 1:
            raise TypeError(f'sensing_epochs must be >= 1, got {sensing_epochs}')
        self.sensing_epochs = int(sensing_epochs)
        self.sensing = {'width': int(sensing_width), 'depth': int(sensing_depth)}
        self.alpha = float(alpha)
        self.views = {'shifts': int(shifts), 'rotations': int(rotations), 'flips': int(flips)}

    def build_modules(self) -> dict[str, nn.Module | None]:
        from training.models.unet import UNet

        modules = super().build_modules()
        ch = self.cfg.model.in_channels
        modules['sense_vis'] = UNet(ch, **self.sensing)
        modules['sense_ir'] = UNet(ch, **self.sensing)
        return modules

    def optimizer_params(self, modules, stage: int) -> dict[str, list[nn.Parameter]]:
        params = {
            'sensing': list(modules['sense_vis'].parameters())
            + list(modules['sense_ir'].parameters())
        }
        if stage == 2:
            params['fusion'] = list(modules['fusion'].parameters())
        return params

    def next_stage(self, history: Sequence[Mapping[str, Any]], stage: int) -> int:
        return 2 if len(history) >= self.sensing_epochs else stage

    def best_from_stage(self) -> int:
        return 2

    def _sources(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(visible, thermal) in the model's channel space: luma (1-channel models) or RGB."""
        vis, th = batch['visible'], batch['thermal']
        if self.cfg.model.in_channels == 1:
            return rgb_to_ycbcr(vis)[:, :1], th[:, :1]
        return vis, th.expand(-1, 3, -1, -1)

    def _fused(self, modules, vis, th) -> torch.Tensor:
        """F in the model's channel space (the luma of the fused RGB for 1-channel models)."""
        fusion = modules['fusion']
        if self.cfg.model.in_channels == 1:
            return rgb_to_ycbcr(fusion(vis.expand(-1, 3, -1, -1), th).fused)[:, :1]
        return fusion(vis, th).fused

    def _fusion_terms(self, modules, vis, th) -> dict[str, torch.Tensor]:
        from training.losses import equivariant_views, sensing_loss

        a_v, a_i = modules['sense_vis'], modules['sense_ir']
        f = self._fused(modules, vis, th)
        terms = {'vis': sensing_loss(a_v(f), vis), 'ir': sensing_loss(a_i(f), th)}
        tf = equivariant_views(f, **self.views)
        refused = self._fused(modules, a_v(tf), a_i(tf))
        terms['equivariance'] = sensing_loss(tf, refused)
        terms['total'] = terms['vis'] + terms['ir'] + self.alpha * terms['equivariance']
        return terms

    def step_losses(self, batch, ctx: StepContext) -> StepResult:
        vis, th = self._sources(batch)
        a_v, a_i = ctx.modules['sense_vis'], ctx.modules['sense_ir']
        if ctx.stage == 1:
            rules = torch.cat([0.5 * (vis + th), torch.maximum(vis, th)])
            lv = F.mse_loss(a_v(rules), torch.cat([vis, vis]))
            li = F.mse_loss(a_i(rules), torch.cat([th, th]))
            total = lv + li
            return StepResult(
                {'sensing': total},
                {'sensing.vis': lv, 'sensing.ir': li, 'sensing': total},
                ('sensing',),
            )
        for m in (
            a_v,
            a_i,
        ):  # frozen in stage 2 (eval: BatchNorm statistics stay those of stage 1)
            m.eval().requires_grad_(False)
        terms = self._fusion_terms(ctx.modules, vis, th)
        out = {f'fusion.{k}': v for k, v in terms.items() if k != 'total'}
        out['fusion'] = terms['total']
        return StepResult({'fusion': terms['total']}, out, ('fusion',))

    def validation_losses(self, batch, ctx: StepContext) -> dict:
        vis, th = self._sources(batch)
        return {'fusion': self._fusion_terms(ctx.modules, vis, th)['total']}
