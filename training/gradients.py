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
Per-task gradients over the shared fusion parameters (SSVIF III-E, App. C).

GDWA needs the gradient norm of each task over the *shared* parameters, and
the gradient analysis of Appendix C needs the projection coefficient and the
cosine between the same two gradients. Both therefore read from one call of
:func:`task_gradients`, so a logged step costs one extra backward per task,
not two.

Conventions the paper leaves open:

* "Shared parameters" are whatever the caller passes: for SSVIF that is the
  fusion model (backbone + image decoder), which both L_fusion and L_csc
  reach. Parameters a loss does not reach contribute a zero block (not an
  error), so the flat vectors of all tasks always have the same length and
  order.
* Gradients are of the *unweighted* task losses (g_k = ||grad L_k||), as in
  GDWA; weighting them first would make the weights feed back on themselves.
* Degenerate denominators (a zero gradient) are clamped at ``eps`` = 1e-12,
  so :func:`projection_coefficient` and :func:`cosine` return 0 instead of
  NaN when a gradient vanishes.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import Tensor


__all__ = [
    'task_gradients',
    'grad_norm',
    'projection_coefficient',
    'cosine',
    'RunningMean',
]

_EPS = 1e-12


def task_gradients(
    losses: Mapping[str, Tensor],
    shared_params: Iterable[torch.nn.Parameter],
    retain_graph: bool = True,
) -> dict[str, Tensor]:
    """
    Flat, detached gradient of each scalar loss w.r.t. ``shared_params``.

    Uses ``torch.autograd.grad`` (``retain_graph=True`` by default) so the
    parameters' ``.grad`` is untouched and the caller can still call
    ``backward()`` on the weighted total afterwards.
    """
    params = [p for p in shared_params if p.requires_grad]
    if not params:
        raise ValueError('task_gradients: no shared parameter requires grad')
    out: dict[str, Tensor] = {}
    for name, loss in losses.items():
        if loss.dim() != 0:
            raise ValueError(f'task_gradients: loss {name!r} is not a scalar')
        grads = torch.autograd.grad(
            loss, params, retain_graph=retain_graph, allow_unused=True
        )
        out[name] = torch.cat(
            [
                (g if g is not None else torch.zeros_like(p)).detach().reshape(-1)
                for g, p in zip(grads, params)
            ]
        )
    return out


def grad_norm(g: Tensor) -> Tensor:
    """Euclidean norm sqrt(sum_i ||g_i||^2) of a flat gradient (GDWA's g_k)."""
    return torch.linalg.vector_norm(g.reshape(-1), ord=2)


def projection_coefficient(g_csc: Tensor, g_fusion: Tensor) -> Tensor:
    """
    alpha_cf = g_csc . g_fusion / ||g_fusion||^2 (Appendix C, Eq. 8).

    Positive: the CSC gradient has a component along the fusion gradient
    (non-conflicting). Returns 0 when ``g_fusion`` is zero.
    """
    a, b = g_csc.reshape(-1), g_fusion.reshape(-1)
    return torch.dot(a, b) / torch.dot(b, b).clamp_min(_EPS)


def cosine(a: Tensor, b: Tensor) -> Tensor:
    """cos(phi) = a . b / (||a|| ||b||) (Appendix C, Eq. 9); 0 if either is zero."""
    a, b = a.reshape(-1), b.reshape(-1)
    return torch.dot(a, b) / (grad_norm(a) * grad_norm(b)).clamp_min(_EPS)


class RunningMean:
    """
    Weighted running mean of scalars (epoch-mean losses, norms, alpha_cf).

    ``update(value, n)`` counts ``value`` ``n`` times (e.g. a batch mean over
    ``n`` samples); tensors are detached and turned into Python floats so no
    graph is kept alive. ``mean`` is ``None`` before the first update.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(self, value: float | Tensor, n: float = 1.0) -> None:
        if isinstance(value, Tensor):
            value = float(value.detach())
        if n <= 0:
            raise ValueError('RunningMean.update: n must be positive')
        self.total += float(value) * n
        self.count += n

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count > 0 else None

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def state_dict(self) -> dict:
        return {'total': self.total, 'count': self.count}

    def load_state_dict(self, state: Mapping) -> None:
        self.total = float(state['total'])
        self.count = float(state['count'])
