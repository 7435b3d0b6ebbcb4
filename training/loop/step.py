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
One training step's bookkeeping, shared by every framework: :class:`StepApplication`.

A framework hands over a :class:`training.frameworks.StepResult`; this
checks every term for NaN/inf (naming the first bad one and the step),
combines several task losses with the weighting strategy (measuring the
per-task gradients over the shared parameters once, for GDWA's norms and
the gradient analysis of SSVIF App. C alike) or with the method's own
multipliers, back-propagates once and steps the named optimizers, with
gradients averaged across data-parallel ranks.

Why an object with its inputs passed in (it was a mixin of the trainer,
reading ten of its attributes): what a step depends on is visible at the
call. It is built once from what lasts the run (the weighting strategy,
the data-parallel context, the shared parameters, the gradient-analysis
period; it owns the run mean of the projection coefficient) and each call
names what changes: the optimizers and the step's :class:`StepPosition`.
"""
from __future__ import annotations

from dataclasses import dataclass
import functools
from typing import Callable, Mapping, Sequence

from ros2_ssvif.errors import SsvifError
import torch
from training.distributed import DistContext
from training.frameworks import StepResult
from training.gradients import (cosine, grad_norm, projection_coefficient, RunningMean,
                                task_gradients)
from training.weighting import LossWeighting, WeightingContext


__all__ = ['StepApplication', 'StepPosition', 'TrainingDiverged', 'analysis_keys']


class TrainingDiverged(SsvifError, RuntimeError):
    """A loss term became NaN or infinite; the message names the term and the step."""

    exit_code = 3  # the commands' documented code for a diverged run
    label = 'training diverged'


def analysis_keys(aux: str) -> tuple[str, str]:
    """Names of the projection coefficient and cosine of ``aux``'s gradient onto the fusion one."""
    return ('alpha_cf', 'cos_cf') if aux == 'csc' else (f'alpha_{aux}_f', f'cos_{aux}_f')


@dataclass(frozen=True)
class StepPosition:
    """Where a step stands: its global step, the completed epochs, the stage (for messages)."""

    global_step: int
    epoch: int
    stage: int


class StepApplication:
    """
    Check, weight, back-propagate and step (see the module docstring).

    ``shared_parameters()``: the parameters per-task gradients are measured
    over when a step names none; ``grad_analysis_every``: the period of the
    gradient analysis (None: off).
    """

    def __init__(self, weighting: LossWeighting, dist: DistContext,
                 shared_parameters: Callable[[], Sequence[torch.nn.Parameter]],
                 grad_analysis_every: int | None = None):
        self.weighting = weighting
        self.dist = dist
        self.shared_parameters = shared_parameters
        self.grad_analysis_every = grad_analysis_every
        self.alpha_mean = RunningMean()  # over the whole run (paper IV-F reports the run average)

    def bind(self, optimizers: Mapping[str, torch.optim.Optimizer], at: StepPosition
             ) -> tuple[Callable[[StepResult], dict[str, float]], Callable[[Mapping], None]]:
        """Return ``apply`` and ``check_finite`` for one step (what a StepContext lends)."""
        return (functools.partial(self.apply, optimizers=optimizers, at=at),
                functools.partial(self.check_finite, at=at))

    def check_finite(self, terms: Mapping[str, torch.Tensor], at: StepPosition) -> None:
        bad = next((k for k, v in terms.items() if not torch.isfinite(v.detach()).all()), None)
        if not self.dist.all_true(bad is None):
            if bad is None:
                raise TrainingDiverged(
                    f'non-finite loss on another rank at step {at.global_step} '
                    f'(epoch {at.epoch + 1})'
                )
            raise TrainingDiverged(
                f'loss term {bad!r} is {float(terms[bad].detach()):g} at step '
                f'{at.global_step} (epoch {at.epoch + 1}, stage {at.stage})'
            )

    def weighted_total(self, res: StepResult, rec: dict, at: StepPosition) -> torch.Tensor:
        """Several task losses -> the weighted total (plus norms and the gradient analysis)."""
        losses, step = res.losses, at.global_step
        aux = [t for t in losses if t != 'fusion']
        want_norms = res.weights is None and self.weighting.wants_grad_norms(step)
        want_analysis = (self.grad_analysis_every is not None and len(aux) == 1
                         and 'fusion' in losses and step % int(self.grad_analysis_every) == 0)
        ctx = WeightingContext(step=step, epoch=at.epoch)
        if want_norms or want_analysis:
            shared = res.shared if res.shared is not None else self.shared_parameters()
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

    def apply(self, res: StepResult, optimizers: Mapping[str, torch.optim.Optimizer],
              at: StepPosition) -> dict[str, float]:
        """Check every term, weight the task losses, back-propagate and step ``res.optimizers``."""
        self.check_finite(res.terms, at)
        rec: dict[str, float] = {}
        for k, v in res.terms.items():
            task, dot, sub = k.partition('.')
            if dot:
                rec['loss_' + (sub if task == 'fusion' else f'{task}_{sub}')] = float(v.detach())
        rec.update({f'L_{k}': float(v.detach()) for k, v in res.losses.items()})
        if len(res.losses) > 1:
            total = self.weighted_total(res, rec, at)
        else:
            total = next(iter(res.losses.values()))
        rec['L_total'] = float(total.detach())
        self.check_finite({'total': total.detach()}, at)
        opts = [optimizers[name] for name in res.optimizers]
        for o in opts:
            o.zero_grad(set_to_none=True)
        total.backward()
        for o in opts:
            self.dist.average_gradients(p for g in o.param_groups for p in g['params'])
            o.step()
        return rec
