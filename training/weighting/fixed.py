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
Fixed weights: L_fusion + omega_csc L_csc with constant omega_csc.

The SSVIF ablation's "fixed setting" uses omega_csc = 0.1 (Sec. IV-E).
"""
from __future__ import annotations

from typing import Mapping

from torch import Tensor
from training.registry import WEIGHTINGS
from training.weighting.base import LossWeighting, WeightingContext


__all__ = ['FixedWeighting']


@WEIGHTINGS.register('fixed')
class FixedWeighting(LossWeighting):
    """Constant multipliers: fusion 1.0, csc ``omega_csc`` (default 0.1)."""

    def __init__(self, omega_csc: float = 0.1, fusion: float = 1.0, **kw) -> None:
        super().__init__(**kw)
        self.omega_csc = float(omega_csc)
        self.fusion = float(fusion)

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        # every task other than fusion (csc, or another framework's auxiliary task) gets omega_csc
        return {t: (self.fusion if t == 'fusion' else self.omega_csc) for t in self.tasks}
