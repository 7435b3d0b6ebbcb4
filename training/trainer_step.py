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
One training step's bookkeeping, shared by every framework (a mixin of ``Trainer``).

A framework hands over a :class:`training.frameworks.StepResult`; this
checks every term for NaN/inf (naming the first bad one and the step),
combines several task losses with the weighting strategy (measuring the
per-task gradients over the shared parameters once, for GDWA's norms and
the gradient analysis of SSVIF App. C alike) or with the method's own
multipliers, back-propagates once and steps the named optimizers, with
gradients averaged across data-parallel ranks. It uses the trainer's
``cfg``, ``dist``, ``framework``, ``modules``, ``optimizers``,
``weighting``, ``alpha_mean``, ``global_step``, ``epoch`` and ``stage``.
"""
from __future__ import annotations

from typing import Mapping

from ros2_ssvif.errors import SsvifError
import torch
from training.frameworks import StepResult
from training.gradients import cosine, grad_norm, projection_coefficient, task_gradients
from training.weighting import WeightingContext


__all__ = ['StepApplication', 'TrainingDiverged', 'analysis_keys']


class TrainingDiverged(SsvifError, RuntimeError):
    """A loss term became NaN or infinite; the message names the term and the step."""

    exit_code = 3  # the commands' documented code for a diverged run
    label = 'training diverged'


def analysis_keys(aux: str) -> tuple[str, str]:
    """Names of the projection coefficient and cosine of ``aux``'s gradient onto the fusion one."""
    return ('alpha_cf', 'cos_cf') if aux == 'csc' else (f'alpha_{aux}_f', f'cos_{aux}_f')


class StepApplication:
    """Check, weight, back-propagate and step (see the module docstring)."""

    def _check_finite(self, terms: Mapping[str, torch.Tensor]) -> None:
        bad = next((k for k, v in terms.items() if not torch.isfinite(v.detach()).all()), None)
        if not self.dist.all_true(bad is None):
            if bad is None:
                raise TrainingDiverged(
                    f'non-finite loss on another rank at step {self.global_step} '
                    f'(epoch {self.epoch + 1})'
                )
            raise TrainingDiverged(
                f'loss term {bad!r} is {float(terms[bad].detach()):g} at step '
                f'{self.global_step} (epoch {self.epoch + 1}, stage {self.stage})'
            )

    def _weighted_total(self, res: StepResult, rec: dict) -> torch.Tensor:
        """Several task losses -> the weighted total (plus norms and the gradient analysis)."""
        cfg, losses = self.cfg, res.losses
        aux = [t for t in losses if t != 'fusion']
        want_norms = res.weights is None and self.weighting.wants_grad_norms(self.global_step)
        want_analysis = (cfg.grad_analysis and len(aux) == 1 and 'fusion' in losses
                         and self.global_step % int(cfg.grad_analysis_every) == 0)
        ctx = WeightingContext(step=self.global_step, epoch=self.epoch)
        if want_norms or want_analysis:
            shared = res.shared if res.shared is not None else \
                self.framework.shared_parameters(self.modules)
            grads = task_gradients(losses, shared)
            grads = {k: self.dist.all_reduce_mean(g) for k, g in grads.items()}
            norms = {k: float(grad_norm(g)) for k, g in grads.items()}
            rec.update({f'g_{k}': v for k, v in norms.items()})
            if want_norms:
                ctx.grad_norms = norms
            if want_analysis:
                a_key, c_key = analysis_keys(aux[0])
                alpha = float(projection_coefficient(grads[aux[0]], grads['fusion']))
                self.alpha_mean.update(alpha)
                rec.update({a_key: alpha, f'{a_key}_mean': self.alpha_mean.mean,
                            c_key: float(cosine(grads[aux[0]], grads['fusion']))})
            del grads
        if res.weights is not None:  # the method's own multipliers, not the strategy's
            w = {k: float(res.weights[k]) for k in losses}
            total = sum(w[k] * losses[k] for k in losses)
        else:
            step_losses = self.dist.mean_scalars({k: float(v.detach()) for k, v in losses.items()})
            w = self.weighting.weights({k: torch.tensor(v) for k, v in step_losses.items()}, ctx)
            total = self.weighting.total(losses, w)
        w_float = {k: float(torch.as_tensor(v).detach()) for k, v in w.items()}
        rec.update({f'w_{k}': v for k, v in w_float.items()})
        if 'fusion' in w_float:
            wf = w_float['fusion']
            for t in aux:
                rec[f'omega_{t}'] = w_float[t] / wf if wf else float('inf')
        last = (getattr(self.weighting, 'last', None) or {}) if res.weights is None else {}
        for k, v in (last.get('lam') or {}).items():
            rec[f'lam_{k}'] = float(v)
        return total

    def _apply(self, res: StepResult) -> dict[str, float]:
        """Check every term, weight the task losses, back-propagate and step ``res.optimizers``."""
        self._check_finite(res.terms)
        rec: dict[str, float] = {}
        for k, v in res.terms.items():
            task, dot, sub = k.partition('.')
            if dot:
                rec['loss_' + (sub if task == 'fusion' else f'{task}_{sub}')] = float(v.detach())
        rec.update({f'L_{k}': float(v.detach()) for k, v in res.losses.items()})
        if len(res.losses) > 1:
            total = self._weighted_total(res, rec)
        else:
            total = next(iter(res.losses.values()))
        rec['L_total'] = float(total.detach())
        self._check_finite({'total': total.detach()})
        opts = [self.optimizers[name] for name in res.optimizers]
        for o in opts:
            o.zero_grad(set_to_none=True)
        total.backward()
        for o in opts:
            self.dist.average_gradients(p for g in o.param_groups for p in g['params'])
            o.step()
        return rec
