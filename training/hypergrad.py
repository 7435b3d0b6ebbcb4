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
Hypergradients for bi-level training: CAF's one-step truncation and BDL's Gauss-Newton.

Both seeds solve a bi-level problem with a first-order shortcut instead of
differentiating through the lower problem's solution:

* **One-step truncation** (CAF Eq. 2-3, Algorithm 1 line 7; the DARTS
  scheme). The lower problem min_w L_in(w; h) is replaced by one gradient
  step w' = w - eta grad_w L_in(w; h), and the hypergradient of the upper
  objective L_out(w'(h); h) is

      dL_out/dh = grad_h L_out(w'; h) - eta grad2_{h,w} L_in(w; h) v,
      v = grad_{w'} L_out(w'; h),

  where the mixed second derivative times v is the central difference
  [grad_h L_in(w + d v; h) - grad_h L_in(w - d v; h)] / (2 d) (Eq. 3), with
  d = radius / ||v|| (radius 1e-2, as the authors' code scales it), so two
  extra first-order gradients replace a Hessian.

  **The virtual step with momentum and weight decay.** Eq. 2 prints the
  plain step; the authors' search code (``arch/architect.py`` of
  RollingPlain/CAF_IVIF, the DARTS architect) takes the step the fusion
  optimiser (SGD) would take next,

      w' = w - eta (mu m + grad_w L_in(w; h) + lambda w),

  with m that optimiser's momentum buffer (zeros before its first step),
  mu its momentum and lambda its weight decay. ``momentum``,
  ``weight_decay`` and ``momentum_buffer`` select it (all off: Eq. 2 as
  printed). m and lambda w do not depend on h, so dw'/dh and the implicit
  term above are unchanged; only w', and with it v, move. The exact
  references unroll the same heavy-ball SGD (the buffer carried from step
  to step), so with one step they differentiate exactly this w'.
* **Gauss-Newton** (BDL Eq. 4-5). For an upper objective Phi(w; theta*(w))
  whose lower problem min_theta phi(w; theta) is solved by a task module,
  the implicit function theorem gives grad_w theta* = -H_tt^-1 H_tw; with
  the Gauss-Newton (rank-one) model of phi's Hessians this becomes

      G = grad_w Phi - (grad_t Phi . grad_t phi) / ||grad_t phi||^2 grad_w phi,

  three first-order gradients. The minus sign follows the derivation in the
  paper's prose (IFT + Gauss-Newton); the extracted Eq. 5 drops it, and the
  authors' public code applies the correction with the opposite sign and
  scaled by a learning rate. We follow the derivation because it is the one
  that is *exact* where Gauss-Newton is exact (phi a squared residual
  linear in theta: see test/test_training_hypergrad.py, which checks it
  against autograd through a converged unrolled lower problem).

Everything is functional (``torch.func.functional_call`` for modules):
losses are callables ``loss(weights, hparams) -> scalar`` over dicts of
tensors, so the same code serves a 3-parameter toy problem and a fusion
network. Exact references (:func:`one_step_hypergradient_exact`,
:func:`unrolled_hypergradient`) differentiate through the steps with
``create_graph=True``; they cost a second-order backward and exist for
tests and small problems.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import Tensor


__all__ = [
    'Params',
    'LossFn',
    'OneStepResult',
    'GaussNewtonResult',
    'detached',
    'flat',
    'one_step_hypergradient',
    'one_step_hypergradient_exact',
    'one_step_outer_loss',
    'virtual_step',
    'finite_difference_mixed_hvp',
    'unrolled_hypergradient',
    'gauss_newton_hypergradient',
    'unrolled_lower_hypergradient',
]

Params = Mapping[str, Tensor]
LossFn = Callable[[Params, Params], Tensor]


def detached(p: Params, requires_grad: bool = False) -> dict[str, Tensor]:
    """Return copies of ``p`` cut from any graph (optionally requiring grad)."""
    return {k: v.detach().clone().requires_grad_(requires_grad) for k, v in p.items()}


def flat(p: Params) -> Tensor:
    """All tensors of ``p`` as one vector (dict order)."""
    return torch.cat([v.reshape(-1) for v in p.values()])


def _grad(loss: Tensor, p: Params, create_graph: bool = False) -> dict[str, Tensor]:
    """Return d loss / d p; a tensor the loss does not reach gets zeros (not None)."""
    keys = list(p)
    gs = torch.autograd.grad(loss, [p[k] for k in keys], allow_unused=True,
                             create_graph=create_graph, retain_graph=create_graph)
    return {k: (torch.zeros_like(p[k]) if g is None else g) for k, g in zip(keys, gs)}


def _dot(a: Params, b: Params) -> Tensor:
    return sum((a[k] * b[k]).sum() for k in a)


def _sgd_direction(weights: Params, grad: Params, momentum: float, weight_decay: float,
                   buffer: Params | None) -> dict[str, Tensor]:
    """Return momentum m + g + weight_decay w: SGD's new momentum buffer (its step over lr)."""
    out = {}
    for k, w in weights.items():
        d = grad[k]
        if weight_decay:
            d = d + weight_decay * w
        if momentum and buffer is not None and buffer.get(k) is not None:
            d = d + momentum * buffer[k]
        out[k] = d
    return out


def virtual_step(weights: Params, grad: Params, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0,
                 momentum_buffer: Params | None = None) -> dict[str, Tensor]:
    """
    Return w - lr (momentum m + g + weight_decay w): SGD's next step (dampening 0, no Nesterov).

    ``momentum_buffer`` m: the optimiser's buffers by parameter name (None, or a
    name missing: zeros, as before SGD's first step). With the defaults this
    is the plain step w - lr g of CAF's Eq. 2, computed exactly as before.
    Differentiable (the references build a graph through it).
    """
    d = _sgd_direction(weights, grad, momentum, weight_decay, momentum_buffer)
    return {k: w - lr * d[k] for k, w in weights.items()}


@dataclass
class OneStepResult:
    """Hypergradient of the upper loss and its parts (for logging)."""

    grad: dict[str, Tensor]       # d L_out(w'(h); h) / d h
    direct: dict[str, Tensor]     # grad_h L_out(w'; h) (zero if L_out ignores h)
    implicit: dict[str, Tensor]   # -eta * mixed-HVP
    outer_loss: float             # L_out(w'; h) at the one-step weights
    inner_loss: float             # L_in(w; h)
    fd_delta: float               # d used by the central difference (0 if v = 0)


def finite_difference_mixed_hvp(
    inner_loss: LossFn, weights: Params, hparams: Params, vector: Params, radius: float = 1e-2
) -> tuple[dict[str, Tensor], float]:
    """
    (grad2_{h,w} L_in(w; h)) v by a central difference of grad_h (CAF Eq. 3).

    d = radius / ||v||; returns (estimate, d). The error is O(d^2) times
    the third derivative, so it is exact for an L_in quadratic in w.
    """
    norm = float(torch.linalg.vector_norm(flat(vector)))
    if norm == 0.0:
        return {k: torch.zeros_like(v) for k, v in hparams.items()}, 0.0
    d = radius / norm
    h = detached(hparams, requires_grad=True)
    out = {}
    for sign in (1.0, -1.0):
        w = {k: (weights[k] + sign * d * vector[k]).detach() for k in weights}
        out[sign] = _grad(inner_loss(w, h), h)
    return {k: (out[1.0][k] - out[-1.0][k]) / (2.0 * d) for k in h}, d


def one_step_hypergradient(
    inner_loss: LossFn,
    outer_loss: LossFn,
    weights: Params,
    hparams: Params,
    lr: float,
    radius: float = 1e-2,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    momentum_buffer: Params | None = None,
) -> OneStepResult:
    """
    Compute CAF's approximate hypergradient (Eq. 2-3): one SGD step, finite-difference HVP.

    ``lr`` is eta, the lower problem's step; ``radius`` sets d = radius/||v||;
    ``momentum``, ``weight_decay``, ``momentum_buffer``: the virtual step's
    optimiser terms (:func:`virtual_step`; module docstring).
    Cost: three first-order gradients of L_in and one of L_out.
    """
    h = detached(hparams, requires_grad=True)
    w = detached(weights, requires_grad=True)
    inner = inner_loss(w, h)
    g = _grad(inner, w)
    with torch.no_grad():
        w1 = virtual_step(w, g, lr, momentum, weight_decay, momentum_buffer)
    w1 = {k: v.detach().requires_grad_(True) for k, v in w1.items()}
    outer = outer_loss(w1, h)
    both = _grad(
        outer, {**{f'w.{k}': v for k, v in w1.items()}, **{f'h.{k}': v for k, v in h.items()}}
    )
    v = {k: both[f'w.{k}'] for k in w1}
    direct = {k: both[f'h.{k}'] for k in h}
    hvp, d = finite_difference_mixed_hvp(inner_loss, detached(weights), h, v, radius)
    implicit = {k: -lr * hvp[k] for k in h}
    grad = {k: direct[k] + implicit[k] for k in h}
    return OneStepResult(
        grad=grad,
        direct=direct,
        implicit=implicit,
        outer_loss=float(outer.detach()),
        inner_loss=float(inner.detach()),
        fd_delta=d,
    )


def one_step_outer_loss(inner_loss: LossFn, outer_loss: LossFn, weights: Params, hparams: Params,
                        lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                        momentum_buffer: Params | None = None) -> float:
    """L_out(w'; h) at the virtual step w' (:func:`virtual_step`): the search's upper objective."""
    h = detached(hparams)
    w = detached(weights, requires_grad=True)
    g = _grad(inner_loss(w, h), w)
    with torch.no_grad():
        w1 = virtual_step(w, g, lr, momentum, weight_decay, momentum_buffer)
        return float(outer_loss(w1, h))


def one_step_hypergradient_exact(inner_loss: LossFn, outer_loss: LossFn, weights: Params,
                                 hparams: Params, lr: float, momentum: float = 0.0,
                                 weight_decay: float = 0.0,
                                 momentum_buffer: Params | None = None) -> dict[str, Tensor]:
    """
    Compute the same one-step hypergradient by autograd through the step.

    Second order, exact.
    """
    return unrolled_hypergradient(inner_loss, outer_loss, weights, hparams, lr, steps=1,
                                  momentum=momentum, weight_decay=weight_decay,
                                  momentum_buffer=momentum_buffer)


def unrolled_hypergradient(
    inner_loss: LossFn, outer_loss: LossFn, weights: Params, hparams: Params, lr: float,
    steps: int, momentum: float = 0.0, weight_decay: float = 0.0,
    momentum_buffer: Params | None = None,
) -> dict[str, Tensor]:
    """
    Compute d L_out(w_K(h); h) / d h through ``steps`` differentiable SGD steps on L_in.

    Heavy-ball SGD as torch's: m <- momentum m + g + weight_decay w,
    w <- w - lr m, from ``momentum_buffer`` (None: zeros). With many steps on
    a lower problem that converges, this is the exact bi-level
    hypergradient (reference for tests and tiny problems).
    """
    h = detached(hparams, requires_grad=True)
    w = detached(weights, requires_grad=True)
    buf = None if momentum_buffer is None else detached(momentum_buffer)
    for _ in range(int(steps)):
        g = _grad(inner_loss(w, h), w, create_graph=True)
        buf = _sgd_direction(w, g, momentum, weight_decay, buf)  # carries the graph on
        w = {k: w[k] - lr * buf[k] for k in w}
    return {k: v.detach() for k, v in _grad(outer_loss(w, h), h).items()}


@dataclass
class GaussNewtonResult:
    """G (gradient for w), its direct part and the scalar Gauss-Newton coefficient."""

    grad: dict[str, Tensor]      # G = direct - coefficient * grad_w phi
    direct: dict[str, Tensor]    # grad_w Phi(w; theta)
    coefficient: float           # (grad_t Phi . grad_t phi) / ||grad_t phi||^2
    upper_loss: float
    lower_loss: float


def gauss_newton_hypergradient(upper_loss: LossFn, lower_loss: LossFn, weights: Params,
                               task_params: Params, eps: float = 0.0) -> GaussNewtonResult:
    """
    Compute BDL's first-order hypergradient for w (Eq. 4-5); see the module docstring.

    ``upper_loss(w, theta)`` is Phi, ``lower_loss(w, theta)`` is phi, both at
    the task parameters theta the lower problem reached (theta ~ theta*(w)).
    ||grad_t phi||^2 <= ``eps`` (the lower problem solved exactly, where the
    ratio is undefined) gives no correction (coefficient 0) rather than a
    division by zero; the ratio itself is scale-free, so a small but
    non-zero gradient is fine.
    """
    w = detached(weights, requires_grad=True)
    t = detached(task_params, requires_grad=True)
    upper = upper_loss(w, t)
    gu = _grad(
        upper, {**{f'w.{k}': v for k, v in w.items()}, **{f't.{k}': v for k, v in t.items()}}
    )
    lower = lower_loss(w, t)
    gl = _grad(
        lower, {**{f'w.{k}': v for k, v in w.items()}, **{f't.{k}': v for k, v in t.items()}}
    )
    gu_t = {k: gu[f't.{k}'] for k in t}
    gl_t = {k: gl[f't.{k}'] for k in t}
    denom = float(_dot(gl_t, gl_t))
    coef = float(_dot(gu_t, gl_t)) / denom if denom > eps else 0.0
    direct = {k: gu[f'w.{k}'] for k in w}
    grad = {k: direct[k] - coef * gl[f'w.{k}'] for k in w}
    return GaussNewtonResult(grad=grad, direct=direct, coefficient=coef,
                             upper_loss=float(upper.detach()), lower_loss=float(lower.detach()))


def unrolled_lower_hypergradient(upper_loss: LossFn, lower_loss: LossFn, weights: Params,
                                 task_params: Params, lr: float, steps: int) -> dict[str, Tensor]:
    """
    Compute d Phi(w; theta_K(w)) / d w through ``steps`` differentiable SGD steps.

    The steps are on phi from theta_0.

    The exact reference for :func:`gauss_newton_hypergradient` once the
    lower problem has converged.
    """
    w = detached(weights, requires_grad=True)
    t = detached(task_params, requires_grad=True)
    for _ in range(int(steps)):
        g = _grad(lower_loss(w, t), t, create_graph=True)
        t = {k: t[k] - lr * g[k] for k in t}
    return {k: v.detach() for k, v in _grad(upper_loss(w, t), w).items()}
