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
Loss-weighting strategies for SSVIF's L_total, selected by name.

``build_weighting(name, **kw)`` with a name registered in
:data:`training.registry.WEIGHTINGS` (each module registers its strategy:
a new one is one new module here); see each module for its conventions and
``training.weighting.base`` for the trainer protocol.
"""
from __future__ import annotations

from training.registry import WEIGHTINGS
from training.weighting.base import LossWeighting, TASKS, WeightingContext
from training.weighting.dwa import DWA
from training.weighting.fixed import FixedWeighting
from training.weighting.gdwa import GDWA, gdwa_lambdas
from training.weighting.rlw import RLW
from training.weighting.segmif import SegMiFWeighting
from training.weighting.uncertainty import UncertaintyWeighting


__all__ = [
    'TASKS',
    'LossWeighting',
    'WeightingContext',
    'FixedWeighting',
    'UncertaintyWeighting',
    'DWA',
    'SegMiFWeighting',
    'GDWA',
    'gdwa_lambdas',
    'RLW',
    'WEIGHTINGS',
    'build_weighting',
]


def build_weighting(name: str, **kw) -> LossWeighting:
    """Instantiate the strategy registered as ``name`` (case-insensitive; KeyError if unknown)."""
    return WEIGHTINGS.lookup(name.lower())(**kw)
