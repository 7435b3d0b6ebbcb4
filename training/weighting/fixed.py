"""Fixed weights: L_fusion + omega_csc L_csc with constant omega_csc.

The SSVIF ablation's "fixed setting" uses omega_csc = 0.1 (Sec. IV-E).
"""
from __future__ import annotations

from typing import Mapping

from torch import Tensor

from training.weighting.base import LossWeighting, WeightingContext

__all__ = ["FixedWeighting"]


class FixedWeighting(LossWeighting):
    """Constant multipliers: fusion 1.0, csc ``omega_csc`` (default 0.1)."""

    def __init__(self, omega_csc: float = 0.1, fusion: float = 1.0, **kw) -> None:
        super().__init__(**kw)
        self.omega_csc = float(omega_csc)
        self.fusion = float(fusion)

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        # every task other than fusion (csc, or another framework's auxiliary task) gets omega_csc
        return {t: (self.fusion if t == "fusion" else self.omega_csc) for t in self.tasks}
