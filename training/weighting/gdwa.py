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
GDWA: gradient-and-descent-based weight adjustment (SSVIF Sec. III-E, Eq. 7).

With tasks A = fusion, B = csc:

    g_k    = || grad_theta L_k ||        (theta: SHARED fusion parameters,
                                         unweighted task losses)
    g~_A   = g_A / (g_A + g_B)           g~_B = 1 - g~_A
    r_k    = L_k^j / L_k^(j-1)           (descent rate, epoch means)
    s_A    = e^(r_A/T) / (e^(r_A/T) + e^(r_B/T)),   s_B = 1 - s_A
    lam_A  = g~_A s_A / (g~_A s_A + g~_B s_B),      lam_B = 1 - lam_A
    omega_csc = lam_B / lam_A            (Eq. 7; fusion multiplier 1)

The same formulas are applied to K tasks (g~_k = g_k / sum g, softmax over
r, lam_k = g~_k s_k / sum); for K = 2 they are exactly the above.

Open choices (constructor options; defaults first):

* ``T`` = 2.0: the paper gives no value; 2 is DWA's.
* ``rate_source``: ``"running"`` (default) reads "j = current epoch"
  literally: r_k = (running mean of L_k over the steps of the current
  epoch so far) / (mean of L_k over the previous epoch), so r changes every
  step. ``"completed"`` uses the last two completed epochs (DWA's lag),
  constant over an epoch.
* ``warmup_rates``: when some task has no previous-epoch loss (first Stage-II
  epoch: L_csc^(j-1) does not exist; with ``"completed"`` also the second):
  ``"ones"`` (default) sets r = 1 for *all* tasks, so s = 1/2 and the weights
  follow the gradient norms only; ``"partial"`` sets r = 1 only for the tasks
  lacking a rate (fusion keeps its rate against the last Stage-I epoch; this
  mixes a real rate with a placeholder, hence not the default).
* ``norm_every`` = 1: gradient norms are measured every ``norm_every``
  global steps (``wants_grad_norms(step)``); between measurements the last
  measurement is reused.
* ``norm_source``: ``"latest"`` (default) uses the most recent measured
  norms (the paper computes g_k for the current parameters); ``"epoch_mean"``
  uses the mean of the norms measured so far in the current epoch (falling
  back to the previous epoch's mean, then the latest), which is smoother
  when ``norm_every`` > 1.
* ``update``: ``"step"`` (default) recomputes omega every step, because
  g_k changes every step; ``"epoch"`` freezes omega for a whole epoch,
  computed at the end of epoch j from that epoch's mean norms and
  r = L^j / L^(j-1) (in the first epoch, from the first step's norms and the
  warm-up rates). ``rate_source`` and ``norm_source`` then do not apply.
* ``relative`` = True returns Eq. 2's multipliers (fusion 1, csc omega);
  False returns (lam_A, lam_B).
* Degenerate cases: g_A + g_B = 0 gives g~ = 1/2 each; lam_A is clamped at
  ``eps`` = 1e-12 so omega stays finite if the fusion gradient vanishes.

Call ``weights`` once per step and ``epoch_end`` once per epoch (also in
Stage I with the fusion loss only, so the fusion history is there).
``last`` holds g~, r, s, lam of the latest computation for logging.
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor
from training.gradients import RunningMean
from training.registry import WEIGHTINGS
from training.weighting.base import LossWeighting, TASKS, WeightingContext
from training.weighting.dwa import softmax_weights


__all__ = ['GDWA', 'gdwa_lambdas']


def gdwa_lambdas(
    norms: Mapping[str, float], rates: Mapping[str, float], T: float = 2.0
) -> dict[str, dict[str, float]]:
    """Pure GDWA combination: returns ``{"g_tilde", "s", "lam"}`` per task."""
    tasks = list(norms)
    gsum = sum(norms.values())
    g_t = {k: (norms[k] / gsum if gsum > 0 else 1.0 / len(tasks)) for k in tasks}
    s = softmax_weights({k: rates[k] for k in tasks}, T)
    prod = {k: g_t[k] * s[k] for k in tasks}
    z = sum(prod.values())
    lam = {k: (prod[k] / z if z > 0 else 1.0 / len(tasks)) for k in tasks}
    return {'g_tilde': g_t, 's': s, 'lam': lam}


@WEIGHTINGS.register('gdwa')
class GDWA(LossWeighting):
    """SSVIF's GDWA; needs per-task gradient norms over the shared parameters."""

    needs_grad_norms = True

    def __init__(
        self,
        T: float = 2.0,
        norm_every: int = 1,
        norm_source: str = 'latest',
        update: str = 'step',
        rate_source: str = 'running',
        warmup_rates: str = 'ones',
        relative: bool = True,
        eps: float = 1e-12,
        tasks: tuple[str, ...] = TASKS,
    ) -> None:
        super().__init__(tasks=tasks, relative=relative)
        if 'fusion' not in self.tasks and relative:
            raise ValueError("gdwa: relative=True needs a 'fusion' task")
        choices = {
            'norm_source': (norm_source, ('latest', 'epoch_mean')),
            'update': (update, ('step', 'epoch')),
            'rate_source': (rate_source, ('running', 'completed')),
            'warmup_rates': (warmup_rates, ('ones', 'partial')),
        }
        for name, (val, allowed) in choices.items():
            if val not in allowed:
                raise ValueError(f'gdwa: {name} must be one of {allowed}, got {val!r}')
        if int(norm_every) < 1:
            raise ValueError('gdwa: norm_every must be >= 1')
        self.T = float(T)
        self.norm_every = int(norm_every)
        self.norm_source = norm_source
        self.update = update
        self.rate_source = rate_source
        self.warmup_rates = warmup_rates
        self.eps = float(eps)
        self.latest_norms: dict[str, float] | None = None
        self.prev_epoch_norms: dict[str, float] | None = None
        self.epoch_norms = {t: RunningMean() for t in self.tasks}
        self.epoch_losses = {t: RunningMean() for t in self.tasks}
        self.frozen: dict[str, float] | None = None
        self.last: dict[str, Any] = {}

    # -- helpers ----------------------------------------------------------
    def wants_grad_norms(self, step: int) -> bool:
        return self.latest_norms is None or step % self.norm_every == 0

    def _fill_rates(self, partial: dict[str, float | None]) -> dict[str, float]:
        if all(v is not None for v in partial.values()):
            return partial  # type: ignore[return-value]
        if self.warmup_rates == 'ones':
            return dict.fromkeys(partial, 1.0)
        return {t: (1.0 if v is None else v) for t, v in partial.items()}

    def _rates(self) -> dict[str, float]:
        out: dict[str, float | None] = {}
        for t in self.tasks:
            h = self.history.get(t, [])
            if self.rate_source == 'running':
                cur = self.epoch_losses[t].mean
                prev = h[-1] if h else None
            else:
                cur, prev = (h[-1], h[-2]) if len(h) >= 2 else (None, None)
            out[t] = cur / prev if (cur is not None and prev) else None
        return self._fill_rates(out)

    def _norms(self) -> dict[str, float] | None:
        if self.norm_source == 'epoch_mean':
            if all(self.epoch_norms[t].count > 0 for t in self.tasks):
                return {t: self.epoch_norms[t].mean for t in self.tasks}  # type: ignore[misc]
            if self.prev_epoch_norms is not None:
                return dict(self.prev_epoch_norms)
        return None if self.latest_norms is None else dict(self.latest_norms)

    def _combine(self, norms: Mapping[str, float], rates: Mapping[str, float]) -> dict[str, float]:
        parts = gdwa_lambdas(norms, rates, self.T)
        lam = dict(parts['lam'])
        if 'fusion' in lam:
            lam['fusion'] = max(lam['fusion'], self.eps)
        self.last = {'g': dict(norms), 'r': dict(rates), **parts}
        return lam

    # -- interface --------------------------------------------------------
    def _raw_weights(self, losses: Mapping[str, Tensor], context: WeightingContext) -> dict:
        if context.grad_norms is not None:
            self.latest_norms = {t: float(context.grad_norms[t]) for t in self.tasks}
            for t in self.tasks:
                self.epoch_norms[t].update(self.latest_norms[t])
        for t in self.tasks:
            if t in losses:
                self.epoch_losses[t].update(losses[t])
        if self.update == 'epoch' and self.frozen is not None:
            return dict(self.frozen)
        norms = self._norms()
        if norms is None:
            raise ValueError('gdwa: no gradient norms yet; pass context.grad_norms')
        if self.update == 'epoch':
            rates = self._fill_rates(
                {t: (self.history[t][-1] / self.history[t][-2]
                     if len(self.history.get(t, [])) >= 2 else None) for t in self.tasks}
            )
            self.frozen = self._combine(norms, rates)
            return dict(self.frozen)
        return self._combine(norms, self._rates())

    def epoch_end(self, epoch_mean_losses: Mapping[str, float | Tensor]) -> None:
        super().epoch_end(epoch_mean_losses)
        if all(self.epoch_norms[t].count > 0 for t in self.tasks):
            self.prev_epoch_norms = {  # type: ignore[misc]
                t: self.epoch_norms[t].mean for t in self.tasks}
        if self.update == 'epoch' and self.prev_epoch_norms is not None:
            rates = self._fill_rates(
                {t: (self.history[t][-1] / self.history[t][-2]
                     if len(self.history.get(t, [])) >= 2 else None) for t in self.tasks}
            )
            self.frozen = self._combine(self.prev_epoch_norms, rates)
        for t in self.tasks:
            self.epoch_norms[t].reset()
            self.epoch_losses[t].reset()

    def state_dict(self) -> dict[str, Any]:
        st = super().state_dict()
        st.update(
            latest_norms=None if self.latest_norms is None else dict(self.latest_norms),
            prev_epoch_norms=None
            if self.prev_epoch_norms is None
            else dict(self.prev_epoch_norms),
            epoch_norms={t: m.state_dict() for t, m in self.epoch_norms.items()},
            epoch_losses={t: m.state_dict() for t, m in self.epoch_losses.items()},
            frozen=None if self.frozen is None else dict(self.frozen),
        )
        return st

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.latest_norms = state['latest_norms']
        self.prev_epoch_norms = state['prev_epoch_norms']
        for t, s in state['epoch_norms'].items():
            self.epoch_norms[t].load_state_dict(s)
        for t, s in state['epoch_losses'].items():
            self.epoch_losses[t].load_state_dict(s)
        self.frozen = state['frozen']
