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
Common interface of the loss-weighting strategies (kept apart from models).

A strategy maps the per-task losses of one step to the multiplier of each
loss in L_total = sum_k w_k L_k. Tasks are named ``"fusion"`` and ``"csc"``;
in SSVIF's Eq. 2 form (L_fusion + omega_csc L_csc) the fusion multiplier is 1
and the csc multiplier is omega_csc. Strategies built for that form
(``fixed``, ``gdwa``) return it directly; strategies that natively weight
every task (``dwa``, ``segmif``) return their own multipliers unless built
with ``relative=True``, which divides by the fusion multiplier.

Protocol for a trainer, once per optimisation step:

1. if ``strategy.wants_grad_norms(step)``: compute the per-task gradient
   norms over the shared fusion parameters (``training.gradients``) and put
   them in ``WeightingContext.grad_norms``;
2. ``w = strategy.weights(losses, ctx)``; ``total = strategy.total(losses, w)``
   (adds ``regularizer()``, non-zero for UCW only);
3. at the end of each epoch: ``strategy.epoch_end(epoch_mean_losses)`` with
   the mean of each *unweighted* loss over the epoch. Call it in Stage I too
   (with ``{"fusion": ...}`` only): GDWA/DWA then know the fusion loss of the
   last Stage-I epoch.

``parameters()`` lists learnable weights (UCW) to add to the optimiser;
``state_dict()``/``load_state_dict()`` hold everything needed to resume.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor


__all__ = ['LossWeighting', 'WeightingContext', 'TASKS', 'epoch_history_rates']

TASKS = ('fusion', 'csc')


@dataclass
class WeightingContext:
    """What a trainer knows at a step: global step, epoch, measured norms (or None)."""

    step: int = 0
    epoch: int = 0
    grad_norms: Mapping[str, float] | None = None
    extra: dict = field(default_factory=dict)


class LossWeighting:
    """Base class; subclasses override :meth:`_raw_weights` and state hooks."""

    #: True if :meth:`weights` needs ``context.grad_norms`` (GDWA); it is then given them at
    #: every step unless :meth:`wants_grad_norms` says otherwise.
    needs_grad_norms: bool = False

    def __init__(self, tasks: tuple[str, ...] = TASKS, relative: bool = False) -> None:
        self.tasks = tuple(tasks)
        self.relative = bool(relative)
        self.history: dict[str, list[float]] = {t: [] for t in self.tasks}

    # -- per step -------------------------------------------------------
    def wants_grad_norms(self, step: int) -> bool:
        """Whether the trainer should measure gradient norms at ``step``."""
        return self.needs_grad_norms

    def weights(
        self, losses: Mapping[str, Tensor], context: WeightingContext | None = None
    ) -> dict[str, float | Tensor]:
        """Multiplier of each loss in ``losses`` (call once per step)."""
        w = self._raw_weights(losses, context or WeightingContext())
        if self.relative:
            base = w['fusion']
            w = {k: v / base for k, v in w.items()}
        return {k: w[k] for k in losses}

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        raise NotImplementedError

    def regularizer(self, tasks: tuple[str, ...] | None = None) -> Tensor | float:
        """Extra term for ``tasks`` (default all) added to the total (UCW); 0 otherwise."""
        return 0.0

    def total(self, losses: Mapping[str, Tensor], weights: Mapping[str, float | Tensor]) -> Tensor:
        """sum_k w_k L_k + regularizer(tasks present in ``losses``)."""
        out = sum(weights[k] * losses[k] for k in losses)
        return out + self.regularizer(tuple(losses))

    def parameters(self) -> list[torch.nn.Parameter]:
        """Learnable weighting parameters to add to the optimiser (none by default)."""
        return []

    # -- per epoch ------------------------------------------------------
    def epoch_end(self, epoch_mean_losses: Mapping[str, float | Tensor]) -> None:
        """Record the epoch means of the unweighted losses (tasks may be missing)."""
        for k, v in epoch_mean_losses.items():
            self.history.setdefault(k, []).append(float(v))

    # -- checkpointing --------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {'history': {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history = {k: [float(x) for x in v] for k, v in state['history'].items()}


def epoch_history_rates(
    history: Mapping[str, list[float]], tasks: tuple[str, ...]
) -> dict[str, float] | None:
    """DWA descent rates L_k(t-1)/L_k(t-2) from the last two epochs; None if any task lacks two."""
    if any(len(history.get(t, [])) < 2 for t in tasks):
        return None
    return {t: history[t][-1] / history[t][-2] for t in tasks}
