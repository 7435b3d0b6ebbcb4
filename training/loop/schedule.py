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
Alternating fusion/segmentation rounds (SegMiF Sec. 3.4, SeAFusion's iterative training).

Both methods train in rounds: the fusion network for ``fusion_steps``
steps (the segmentation network frozen), then the segmentation network for
``seg_steps`` steps on the current fused images (the fusion network
frozen). Counting is in optimisation steps from the start of the run, so
the schedule is a pure function of the global step and a resumed run is in
the same phase as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass


__all__ = ['AlternatingSchedule']

PHASES = ('fusion', 'seg')


@dataclass(frozen=True)
class AlternatingSchedule:
    fusion_steps: int
    seg_steps: int

    def __post_init__(self) -> None:
        if int(self.fusion_steps) < 1 or int(self.seg_steps) < 1:
            raise ValueError(f'fusion_steps and seg_steps must be >= 1, got {self.fusion_steps}, '
                             f'{self.seg_steps}')

    @property
    def period(self) -> int:
        return int(self.fusion_steps) + int(self.seg_steps)

    def phase(self, step: int) -> str:
        """``"fusion"`` or ``"seg"`` at global step ``step`` (0-based); rounds open with fusion."""
        return 'fusion' if int(step) % self.period < int(self.fusion_steps) else 'seg'

    def round(self, step: int) -> int:  # noqa: A003 (a schedule round)
        """0-based round of ``step`` (round 0: the first fusion phase and the seg phase next)."""
        return int(step) // self.period
