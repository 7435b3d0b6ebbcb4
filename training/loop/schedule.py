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

:func:`poly_lr` is the "poly" learning rate SegMiF (Sec. 5) uses for both
networks, with an optional constant warm-up; a framework sets it on its
optimizers before every step, from :meth:`AlternatingSchedule.phase_steps`
(each network counts its own iterations). A pure function of the step
rather than a ``torch.optim.lr_scheduler`` object: nothing to checkpoint,
and a resumed run gets the same rate as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass


__all__ = ['AlternatingSchedule', 'poly_lr']

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

    def phase_steps(self, step: int, phase: str) -> int:
        """Return the steps of ``phase`` before global step ``step``: that network's iteration."""
        rounds, pos = divmod(int(step), self.period)
        f = int(self.fusion_steps)
        if phase == 'fusion':
            return rounds * f + min(pos, f)
        if phase == 'seg':
            return rounds * int(self.seg_steps) + max(pos - f, 0)
        raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')


def poly_lr(k: int, total: int, base: float, end: float = 0.0, power: float = 1.0,
            warmup_steps: int = 0, warmup_lr: float | None = None) -> float:
    """
    Return the rate of iteration ``k`` (0-based) of ``total``: poly decay after a warm-up.

    ``k < warmup_steps``: the constant ``warmup_lr``. After it, with
    ``t = (k - warmup_steps) / (total - warmup_steps)`` clamped to [0, 1]:
    ``end + (base - end) (1 - t) ** power``, so the first iteration after
    the warm-up runs at ``base`` and iteration ``total`` (and any later) at
    ``end``. ``power`` 0 keeps ``base`` throughout (a constant rate).
    """
    k, total, warm = int(k), int(total), int(warmup_steps)
    if total < 1 or warm < 0:
        raise ValueError(f'need total >= 1 and warmup_steps >= 0, got {total}, {warm}')
    if k < warm:
        return float(base if warmup_lr is None else warmup_lr)
    t = min(max((k - warm) / max(total - warm, 1), 0.0), 1.0)
    return float(end) + (float(base) - float(end)) * (1.0 - t) ** float(power)
