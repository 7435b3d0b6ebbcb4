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
Random Loss Weighting (RLW; Lin, Ye, Zhang and Tsang, TMLR 2022).

Each step draws fresh weights lambda = softmax(z), z ~ N(0, sigma^2 I) over
the tasks (the paper's normal-distribution variant, the one the bi-level
dynamic learning paper uses for its two task gradients, Algorithm 1 line 8).
The weights sum to 1 and no task is favoured on average, so the
optimisation does not settle on one task's local optimum.

Conventions:

* One draw per call of :meth:`weights` (call it once per step). Draws come
  from the strategy's own ``torch.Generator`` seeded with ``seed``, so a run
  is reproducible and independent of the model's random stream; the
  generator state is checkpointed, so a resumed run draws what an
  uninterrupted one would have.
* Native weights (sum 1, as in the paper). ``relative=True`` divides by the
  fusion weight (SSVIF's Eq. 2 form: fusion 1, csc exp(z_csc - z_fusion)).
* Tasks absent from a step's losses (Stage I has no csc) are still drawn,
  so the random stream does not depend on which tasks are present.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor
from training.registry import WEIGHTINGS
from training.weighting.base import LossWeighting, WeightingContext


__all__ = ['RLW']


@WEIGHTINGS.register('rlw')
class RLW(LossWeighting):
    """lambda = softmax(z), z ~ N(0, sigma^2) per task, redrawn every step."""

    def __init__(self, sigma: float = 1.0, seed: int = 0, **kw) -> None:
        super().__init__(**kw)
        if not float(sigma) > 0.0:
            raise ValueError(f'RLW sigma must be > 0, got {sigma}')
        self.sigma = float(sigma)
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.last: dict[str, dict[str, float]] = {}  # {"lam": last draw} (the trainer logs lam_*)

    def draw(self) -> dict[str, float]:
        """One draw of the weights over all tasks (advances the generator)."""
        z = (
            torch.randn(len(self.tasks), generator=self.generator, dtype=torch.float64)
            * self.sigma
        )
        lam = torch.softmax(z, dim=0)
        return {t: float(v) for t, v in zip(self.tasks, lam)}

    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        lam = self.draw()
        self.last = {'lam': lam}
        return dict(lam)

    def state_dict(self) -> dict[str, Any]:
        s = super().state_dict()
        s['generator'] = self.generator.get_state()
        return s

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state['generator'])
