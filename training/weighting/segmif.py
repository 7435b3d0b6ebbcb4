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
SegMiF's dynamic factor: DWA with a task preference eta (SegMiF Eq. 8-9).

lambda_i(n) = eta_i exp(r_i(n-1)/T) / sum_k exp(r_k(n-1)/T),
r_i(n-1) = L_i(n-1) / L_i(n-2) (epoch means), as SegMiF writes it: eta_i
replaces DWA's constant K, so the preferred (primary) task gets a larger
multiplier.

Ambiguities and what we do:

* SegMiF reports no eta and no T. Defaults: T = 2 (DWA's value) and
  eta = {"fusion": 2.0, "csc": 1.0}: fusion is SSVIF's primary task, and with
  equal rates the fusion multiplier is 1 (the Stage-I scale) and csc 0.5.
  This is our choice, not the paper's.
* The prose says "if the convergent rate descends fast, we should pay more
  attention to this task", but Eq. 9 (like DWA) gives *more* weight to a
  higher ratio L(n-1)/L(n-2), i.e. to a task that descends *slowly*. We
  implement Eq. 9 as written.
* Before two epochs exist for every task we use r = 1 for all tasks in
  Eq. 9 (so lambda_i = eta_i / K), keeping eta's preference from the start
  instead of DWA's all-ones warm-up.
* SegMiF applies the factor in alternating fusion/segmentation updates; here
  it weights the two losses of one joint SSVIF step.
``relative=True`` returns the Eq. 2 form (fusion 1, csc lambda_csc/lambda_fusion).
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor
from training.registry import WEIGHTINGS
from training.weighting.base import epoch_history_rates, LossWeighting, WeightingContext
from training.weighting.dwa import softmax_weights


__all__ = ['SegMiFWeighting']


@WEIGHTINGS.register('segmif')
class SegMiFWeighting(LossWeighting):
    """DWA-style softmax of descent rates scaled by a per-task preference eta."""

    def __init__(
        self, eta: Mapping[str, float] | None = None, T: float = 2.0, **kw
    ) -> None:
        super().__init__(**kw)
        default = {t: (2.0 if t == 'fusion' else 1.0) for t in self.tasks}  # fusion 2, csc 1
        self.eta = dict(eta) if eta is not None else default
        missing = set(self.tasks) - set(self.eta)
        if missing:
            raise ValueError(f'segmif: eta missing for tasks {sorted(missing)}')
        self.T = float(T)

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        rates = epoch_history_rates(self.history, self.tasks) or dict.fromkeys(self.tasks, 1.0)
        s = softmax_weights(rates, self.T)
        return {k: self.eta[k] * s[k] for k in self.tasks}

    def state_dict(self) -> dict[str, Any]:
        st = super().state_dict()
        st['eta'] = dict(self.eta)
        return st

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.eta = dict(state.get('eta', self.eta))
