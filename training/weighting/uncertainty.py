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
Uncertainty weighting (UCW; Kendall, Gal and Cipolla, CVPR 2018).

Form used (Kendall's regression form, also LibMTL's ``UW``), with one
learnable s_k = log sigma_k^2 per task, initialised to 0:

    L_total = sum_k 0.5 exp(-s_k) L_k + 0.5 s_k

so ``weights`` returns the *tensors* 0.5 exp(-s_k) (they carry gradient into
s_k: do not detach them) and ``regularizer()`` returns 0.5 sum_k s_k over the
tasks present (``total()`` does both). Add
``parameters()`` to the optimiser. Both tasks are treated alike (L_csc is a
classification loss, for which Kendall's form differs by a constant factor;
we keep one form for both, as LibMTL does). The multipliers are native, not
relative to fusion: with ``relative=True`` the fusion multiplier would be 1
and s_fusion would get no gradient from its own loss, so that is refused.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor
from training.registry import WEIGHTINGS
from training.weighting.base import LossWeighting, WeightingContext


__all__ = ['UncertaintyWeighting']


@WEIGHTINGS.register('ucw')
class UncertaintyWeighting(LossWeighting):
    """Learnable log-variances s_k; multiplier 0.5 exp(-s_k), penalty 0.5 s_k."""

    def __init__(self, init_log_var: float = 0.0, relative: bool = False, **kw) -> None:
        if relative:
            raise ValueError('UCW weights are learned jointly; relative=True is not supported')
        super().__init__(**kw)
        self.log_vars = torch.nn.ParameterDict(
            {t: torch.nn.Parameter(torch.tensor(float(init_log_var))) for t in self.tasks}
        )

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.log_vars.values())

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        return {t: 0.5 * torch.exp(-self.log_vars[t]) for t in losses}

    def regularizer(self, tasks: tuple[str, ...] | None = None) -> Tensor:
        """
        Return 0.5 sum_k s_k over ``tasks``.

        Only the losses present this step, so an absent task's s_k is not driven to
        -inf by its penalty alone.
        """
        return 0.5 * sum(self.log_vars[t] for t in (tasks or self.tasks))

    def state_dict(self) -> dict[str, Any]:
        s = super().state_dict()
        s['log_vars'] = {t: float(p.detach()) for t, p in self.log_vars.items()}
        return s

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for t, v in state['log_vars'].items():
                self.log_vars[t].fill_(float(v))
