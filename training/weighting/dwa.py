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
Dynamic Weight Average (DWA; Liu, Johns and Davison, CVPR 2019).

w_k(t) = K exp(r_k(t-1)/T) / sum_i exp(r_i(t-1)/T),
r_k(t-1) = L_k(t-1) / L_k(t-2), with L_k the epoch mean of task k's
unweighted loss, K the number of tasks and T = 2. Weights are constant over
an epoch. Until every task has two recorded epochs (the paper's t = 1, 2)
all weights are 1. Epochs are counted from when the strategy sees each task,
so in SSVIF's Stage II the csc task needs two Stage-II epochs first.
``relative=True`` returns the Eq. 2 form (fusion 1, csc w_csc/w_fusion).
"""
from __future__ import annotations

import math
from typing import Mapping

from torch import Tensor
from training.registry import WEIGHTINGS
from training.weighting.base import epoch_history_rates, LossWeighting, WeightingContext


__all__ = ['DWA', 'softmax_weights']


def softmax_weights(rates: Mapping[str, float], T: float) -> dict[str, float]:
    """exp(r_k/T) / sum_i exp(r_i/T) (max-shifted for stability)."""
    m = max(rates.values())
    e = {k: math.exp((r - m) / T) for k, r in rates.items()}
    z = sum(e.values())
    return {k: v / z for k, v in e.items()}


@WEIGHTINGS.register('dwa')
class DWA(LossWeighting):
    """Liu et al.'s DWA with temperature ``T`` (default 2)."""

    def __init__(self, T: float = 2.0, **kw) -> None:
        super().__init__(**kw)
        self.T = float(T)

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        rates = epoch_history_rates(self.history, self.tasks)
        if rates is None:
            return dict.fromkeys(self.tasks, 1.0)
        K = len(self.tasks)
        return {k: K * s for k, s in softmax_weights(rates, self.T).items()}
