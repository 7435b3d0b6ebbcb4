"""Dynamic Weight Average (DWA; Liu, Johns and Davison, CVPR 2019).

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

from training.weighting.base import LossWeighting, WeightingContext, epoch_history_rates

__all__ = ["DWA", "softmax_weights"]


def softmax_weights(rates: Mapping[str, float], T: float) -> dict[str, float]:
    """exp(r_k/T) / sum_i exp(r_i/T) (max-shifted for stability)."""
    m = max(rates.values())
    e = {k: math.exp((r - m) / T) for k, r in rates.items()}
    z = sum(e.values())
    return {k: v / z for k, v in e.items()}


class DWA(LossWeighting):
    """Liu et al.'s DWA with temperature ``T`` (default 2)."""

    def __init__(self, T: float = 2.0, **kw) -> None:
        super().__init__(**kw)
        self.T = float(T)

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        rates = epoch_history_rates(self.history, self.tasks)
        if rates is None:
            return {t: 1.0 for t in self.tasks}
        K = len(self.tasks)
        return {k: K * s for k, s in softmax_weights(rates, self.T).items()}
