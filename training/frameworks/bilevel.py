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
Bi-level dynamic learning (seed paper 003) as a framework: ``bilevel`` and ``bilevel_visual``.

The fusion network F (omega) is the upper variable; two task modules are
lower variables: a WGAN-GP critic T_V judging F's output against the VSM
pseudo-fused image, and a perception network T_P (segmentation). Per step
(Algorithm 1), after a warm start that pretrains F:

1. lower problems (lines 5-6): ``lower_steps`` SGD steps (default 10) of
   T_V on phi_V = E T_V(u) - E T_V(u_m) + eta GP (Eq. 6) and of T_P on
   cross-entropy phi_P, F fixed;
2. task gradients for F (line 7): G_k = grad_w Phi_k - c_k grad_w phi_k,
   the Gauss-Newton hypergradient (Eq. 4-5,
   ``training.hypergrad.gauss_newton_hypergradient``), with the upper
   objectives Phi_V = sum_j ||sqrt(m_j) (u - s_j)||^2 - E T_V(u) (Eq. 7, read
   as saliency-weighted pixel errors, see below) and Phi_P cross-entropy;
3. random loss weighting (line 8): (lambda_V, lambda_P) = softmax(z),
   z ~ N(0, 1) (``training.weighting.rlw.RLW``; ``weighting: equal`` gives
   the equal-weight baseline of the paper's Table 5);
4. omega <- omega - lr (lambda_V G_V + lambda_P G_P) (line 9).

``bilevel`` needs labels (T_P); ``bilevel_visual`` runs the label-free
half (T_V only, lambda_V = 1) on unlabelled pairs such as RoadScene.

Decisions on what the paper leaves open:

* **Data for upper and lower.** Phi is "on the validation set", phi "on the
  training set". The trainer hands a framework one batch, so each batch is
  split: the first half (the larger, for odd sizes) serves the lower
  problems, the second half the upper objectives (disjoint images within
  every step; ``data.batch_size`` >= 2 is checked). The authors' code
  draws the upper batch from a separate validation loader instead; halves
  keep one loader, one epoch and bit-exact resume, at the price of half a
  batch on each side (so the CPU configs' batch 4 is 2 + 2). The real
  validation split is still the trainer's (``val_L_fusion``).
* **Lower steps per upper step** (``lower_steps``, default 10). The paper
  says the lower problems are optimised "with several steps" before each
  fusion update (Sec. 2.3) without a number; Algorithm 1 draws one step of
  each per loop. The authors' code (LiuZhu-CV/BDLFusion ``train.py``)
  steps the critic and the perception network on every batch and F on
  every tenth, i.e. 10 lower steps per upper step: that is the default.
  Here the ``lower_steps`` steps all run on the step's lower half (F is
  fixed during them, so its fused images are computed once), not on ten
  separate batches.
* **Eq. 7's pixel term** prints ||u - m_1 x||^2 + ||u - m_2 y||^2, whose
  minimiser is u_m / 2; the intent (keep each source where it is salient)
  is the saliency-weighted error sum m_1 (u - x)^2 + sum m_2 (u - y)^2 per
  image (squared norms, so the term scales with the crop as the paper's
  does), as in CAF's masked terms. It is also the warm-start loss and the
  validation metric (``val_L_fusion``).
* **Optimisers.** SGD (momentum ``momentum``) for every module, learning
  rate ``lr`` (default 2e-4, the paper's) decayed by 10x at each of
  ``milestones`` (epoch indices from 0: the rate drops once that many
  epochs are done), so the paper's 2e-4 -> 2e-6 is two milestones.
  ``lower_lr`` (default: ``lr``, the paper's "same learning rate" for the
  task modules and the fusion network) sets the critic's and the
  perception network's rate, with the same decay. The CPU configs give
  the lower problems the paper's 2e-4 and ten steps per fusion step
  (their fusion rate stays at a measured 1e-4, see their comments). The
  CPU results in ``docs/results/learning_to_learn_cpu`` predate this:
  they ran one lower step at 3e-3 (15x the paper's rate, 30x their fusion
  rate); set ``lower_steps: 1`` and ``lower_lr: 3.0e-3`` to reproduce
  them. The trainer's own optimiser for "fusion" (Adam) is created but
  never stepped; its logged ``lr`` is kept equal to the SGD rate. SGD
  states live in this framework's checkpoint state.
* **Gradient penalty** at interpolates (Gulrajani et al.), eta = 10; the
  fused image enters the penalty detached, so grad_w phi_V comes from
  E T_V(u) alone (the penalty regularises the critic).
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call
import torch.nn.functional as F
from training.frameworks.base import Framework, register_framework, StepContext
from training.hypergrad import gauss_newton_hypergradient
from training.losses.adversarial import critic_loss, generator_adversarial, PENALTY_AT
from training.losses.saliency import pseudo_fused, saliency_pixel_loss, to_luma


__all__ = ['BilevelDynamic', 'BilevelVisual']

IGNORE_INDEX = 255


def _fn(module: nn.Module, params: Mapping[str, torch.Tensor]):
    """
    Return ``module`` as a function of ``params``.

    Buffers copied: probes leave BN statistics be.
    """
    buffers = {k: v.clone() for k, v in module.named_buffers()}
    return lambda *args: functional_call(module, {**params, **buffers}, args)


@register_framework('bilevel')
class BilevelDynamic(Framework):
    """F + critic T_V + perception T_P, warm start then bi-level steps (needs labels)."""

    needs_labels = True
    perception = True

    def __init__(
        self,
        cfg,
        warm_start_epochs: int = 2,
        lr: float = 2e-4,
        lower_lr: float | None = None,
        milestones: Sequence[int] | None = None,
        momentum: float = 0.9,
        lower_steps: int = 10,
        gp_weight: float = 10.0,
        gp_at: str = 'interpolates',
        adversarial: float = 1.0,
        critic_width: int = 16,
        critic_depth: int = 3,
        task_model: str = 'compact',
        task_width: int = 16,
        weighting: str = 'rlw',
        rlw_sigma: float = 1.0,
        rlw_seed: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(cfg, **options)
        from training.weighting.rlw import RLW

        if isinstance(lower_steps, bool) or not float(lower_steps).is_integer() \
                or int(lower_steps) < 1:
            raise TypeError(f'lower_steps must be a whole number >= 1, got {lower_steps!r}')
        if int(warm_start_epochs) < 0 or not float(lr) > 0 \
                or (lower_lr is not None and not float(lower_lr) > 0):
            raise TypeError('warm_start_epochs must be >= 0 and the rates > 0')
        if gp_at not in PENALTY_AT:
            raise TypeError(f'gp_at must be one of {PENALTY_AT}, got {gp_at!r}')
        if weighting not in ('rlw', 'equal'):
            raise TypeError(f'weighting must be rlw or equal, got {weighting!r}')
        if task_model not in ('compact', 'tiny', 'b0', 'b3'):
            raise TypeError(f'task_model must be compact, tiny, b0 or b3, got {task_model!r}')
        self.warm_start_epochs = int(warm_start_epochs)
        self.lr = float(lr)
        self.lower_lr = float(lr if lower_lr is None else lower_lr)
        self.milestones = sorted(int(m) for m in (milestones if milestones is not None else
                                                  self._default_milestones(cfg)))
        self.momentum = float(momentum)
        self.lower_steps = int(lower_steps)
        self.gp_weight, self.gp_at, self.adversarial = float(gp_weight), gp_at, float(adversarial)
        self.critic_width, self.critic_depth = int(critic_width), int(critic_depth)
        self.task_model, self.task_width = task_model, int(task_width)
        self.weighting = weighting
        self.rlw = RLW(sigma=rlw_sigma, seed=rlw_seed, tasks=('visual', 'perception'))
        self.sgd: dict[str, torch.optim.SGD] = {}
        self._pending: dict[str, Any] = {}

    def _default_milestones(self, cfg) -> list[int]:
        """Two 10x decays (2e-4 -> 2e-6) at half and three quarters of the run."""
        return [
            max(1, math.ceil(0.5 * int(cfg.epochs))),
            max(1, math.ceil(0.75 * int(cfg.epochs))),
        ]

    @classmethod
    def check_config(cls, cfg) -> None:
        from training.config import ConfigError

        if int(cfg.data.batch_size) < 2:
            raise ConfigError('bilevel frameworks split each batch into lower and upper halves: '
                              'data.batch_size must be >= 2')

    # -- modules --------------------------------------------------------------------
    def build_modules(self) -> dict[str, nn.Module | None]:
        from training.models import fusion_model_from_config
        from training.models.discriminator import PatchCritic

        mods: dict[str, nn.Module | None] = {
            'fusion': fusion_model_from_config(self.cfg.model),
            'critic': PatchCritic(1, self.critic_width, self.critic_depth),
            'task': None,
        }
        if self.perception:
            from training.caf.build import build_task_model

            mods['task'] = build_task_model(
                SimpleNamespace(
                    model=self.task_model,
                    width=self.task_width,
                    num_classes=self.cfg.model.seg_classes,
                )
            )
        return mods

    def optimizer_params(self, modules, stage: int) -> dict[str, list[nn.Parameter]]:
        return {
            'fusion': list(modules['fusion'].parameters())
        }  # the trainer's; never stepped here

    # -- stages -------------------------------------------------------------------------
    def initial_stage(self) -> int:
        return 1 if self.warm_start_epochs > 0 else 2

    def next_stage(self, history, stage: int) -> int:
        return 2 if stage == 1 and len(history) >= self.warm_start_epochs else stage

    def best_from_stage(self) -> int:
        return 2

    # -- optimisers -------------------------------------------------------------------------
    def current_lr(self, epoch: int, base: float | None = None) -> float:
        """
        Return ``base`` (default ``lr``) after the 10x decays.

        The decays of the milestones passed by ``epoch``.
        """
        passed = sum(1 for m in self.milestones if epoch >= m)
        return (self.lr if base is None else base) * 0.1 ** passed

    def _sgd(self, ctx: StepContext) -> dict[str, torch.optim.SGD]:
        if not self.sgd:
            for name in ('fusion', 'critic', 'task'):
                m = ctx.modules.get(name)
                if m is not None:
                    self.sgd[name] = torch.optim.SGD(
                        m.parameters(), lr=self.lr, momentum=self.momentum
                    )
            for name, state in self._pending.items():
                self.sgd[name].load_state_dict(state)
            self._pending = {}
        lr = self.current_lr(ctx.epoch)
        for name, o in self.sgd.items():
            for g in o.param_groups:
                g['lr'] = lr if name == 'fusion' else self.current_lr(ctx.epoch, self.lower_lr)
        trainer_opt = ctx.optimizers.get('fusion')
        if trainer_opt is not None:  # the trainer logs this optimiser's rate: keep it true
            for g in trainer_opt.param_groups:
                g['lr'] = lr
        return self.sgd

    # -- steps ----------------------------------------------------------------------------
    @staticmethod
    def _halves(batch: Mapping[str, Any]) -> tuple[dict, dict]:
        n = batch['visible'].shape[0]
        k = (n + 1) // 2
        return ({key: v[:k] for key, v in batch.items()}, {key: v[k:] for key, v in batch.items()})

    def train_step(self, batch, ctx: StepContext) -> dict[str, float]:
        opts = self._sgd(ctx)
        if ctx.stage == 1:
            return self._warm_step(batch, ctx, opts)
        return self._bilevel_step(batch, ctx, opts)

    def _warm_step(self, batch, ctx, opts) -> dict[str, float]:
        fusion = ctx.modules['fusion']
        loss = saliency_pixel_loss(
            fusion(batch['visible'], batch['thermal']).fused, batch['thermal'], batch['visible']
        )
        ctx.check_finite({'fusion': loss})
        opts['fusion'].zero_grad(set_to_none=True)
        loss.backward()
        opts['fusion'].step()
        v = float(loss.detach())
        return {'L_fusion': v, 'L_total': v}

    def _lower_steps(self, low: dict, ctx, opts, rec: dict) -> None:
        """Lines 5-6: the critic and the perception network on the lower half."""
        fusion, critic, task = ctx.modules['fusion'], ctx.modules['critic'], ctx.modules['task']
        with torch.no_grad():
            fused_rgb = fusion(low['visible'], low['thermal']).fused
            u, real = to_luma(fused_rgb), to_luma(self._pseudo(low))
        for _ in range(self.lower_steps):
            cl = critic_loss(critic, real, u, eta=self.gp_weight, at=self.gp_at)
            ctx.check_finite({'critic': cl['total']})
            opts['critic'].zero_grad(set_to_none=True)
            cl['total'].backward()
            opts['critic'].step()
            if task is not None:
                tl = F.cross_entropy(task(fused_rgb), low['label'], ignore_index=IGNORE_INDEX)
                ctx.check_finite({'task': tl})
                opts['task'].zero_grad(set_to_none=True)
                tl.backward()
                opts['task'].step()
        rec.update(
            loss_critic=float(cl['total'].detach()),
            loss_critic_wasserstein=float(cl['wasserstein'].detach()),
            loss_critic_penalty=float(cl['penalty'].detach()),
        )
        if task is not None:
            rec['loss_task_train'] = float(tl.detach())

    @staticmethod
    def _pseudo(batch: Mapping[str, Any]) -> torch.Tensor:
        return pseudo_fused(batch['thermal'], batch['visible'])

    def _visual_gradient(self, low, up, ctx):
        fusion, critic = ctx.modules['fusion'], ctx.modules['critic']
        real_low = to_luma(self._pseudo(low))

        def upper(w, t):
            u = _fn(fusion, w)(up['visible'], up['thermal']).fused
            adv = generator_adversarial(_fn(critic, t), to_luma(u))
            return saliency_pixel_loss(u, up['thermal'], up['visible']) + self.adversarial * adv

        def lower(w, t):
            u = to_luma(_fn(fusion, w)(low['visible'], low['thermal']).fused)
            return critic_loss(_fn(critic, t), real_low, u, eta=self.gp_weight, at=self.gp_at,
                               detach_fake=False)['total']

        return gauss_newton_hypergradient(upper, lower, dict(fusion.named_parameters()),
                                          dict(critic.named_parameters()))

    def _perception_gradient(self, low, up, ctx):
        fusion, task = ctx.modules['fusion'], ctx.modules['task']

        def ce(w, t, b):
            u = _fn(fusion, w)(b['visible'], b['thermal']).fused
            return F.cross_entropy(_fn(task, t)(u), b['label'], ignore_index=IGNORE_INDEX)

        return gauss_newton_hypergradient(
            lambda w, t: ce(w, t, up),
            lambda w, t: ce(w, t, low),
            dict(fusion.named_parameters()),
            dict(task.named_parameters()),
        )

    def _bilevel_step(self, batch, ctx, opts) -> dict[str, float]:
        low, up = self._halves(batch)
        rec: dict[str, float] = {}
        self._lower_steps(low, ctx, opts, rec)
        gv = self._visual_gradient(low, up, ctx)
        grads = {'visual': gv}
        if ctx.modules['task'] is not None:
            grads['perception'] = self._perception_gradient(low, up, ctx)
        if len(grads) == 1:
            lam = {'visual': 1.0}
        elif self.weighting == 'equal':
            lam = {'visual': 0.5, 'perception': 0.5}
        else:
            lam = self.rlw.draw()
        fusion = ctx.modules['fusion']
        for name, p in fusion.named_parameters():
            p.grad = sum(lam[k] * g.grad[name] for k, g in grads.items()).detach().clone()
        ctx.check_finite({f'G_{k}': torch.stack([g.grad[n].abs().sum() for n in g.grad]).sum()
                          for k, g in grads.items()})
        opts['fusion'].step()
        opts['fusion'].zero_grad(set_to_none=True)
        with torch.no_grad():
            pixel = saliency_pixel_loss(
                fusion(up['visible'], up['thermal']).fused, up['thermal'], up['visible']
            )
        rec.update(L_fusion=float(pixel), L_visual=gv.upper_loss, gn_coef_visual=gv.coefficient,
                   lam_visual=lam['visual'])
        upper_total = gv.upper_loss
        if 'perception' in grads:
            gp = grads['perception']
            rec.update(L_perception=gp.upper_loss, gn_coef_perception=gp.coefficient,
                       lam_perception=lam['perception'])
            upper_total += gp.upper_loss
        rec['L_upper'] = upper_total
        rec['L_total'] = upper_total
        return rec

    def validation_losses(self, batch, ctx: StepContext) -> dict:
        fused = ctx.modules['fusion'](batch['visible'], batch['thermal']).fused
        out = {'fusion': saliency_pixel_loss(fused, batch['thermal'], batch['visible'])}
        if ctx.modules.get('task') is not None and 'label' in batch:
            out['perception'] = F.cross_entropy(ctx.modules['task'](fused), batch['label'],
                                                ignore_index=IGNORE_INDEX)
        return out

    # -- own state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        sgd = {k: o.state_dict() for k, o in self.sgd.items()} or dict(self._pending)
        return {'sgd': sgd, 'rlw': self.rlw.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        self.rlw.load_state_dict(state['rlw'])
        if self.sgd:
            for k, s in state['sgd'].items():
                self.sgd[k].load_state_dict(s)
        else:
            self._pending = dict(state['sgd'])


@register_framework('bilevel_visual')
class BilevelVisual(BilevelDynamic):
    """The label-free half of bi-level dynamic learning: F and the critic T_V only."""

    needs_labels = False
    perception = False
