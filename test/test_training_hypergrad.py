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
Hypergradients (training.hypergrad) against exact values on tiny problems.

Tolerances (float64 throughout):

* CAF's finite-difference Hessian-vector product is exact for a lower loss
  quadratic in the weights (central differences of a quadratic): relative
  error < 1e-8; on a non-quadratic loss it is O(d^2): < 1e-4 at radius
  1e-2, and ten times smaller d must shrink the error at least 50x. The
  whole one-step hypergradient there: < 5e-4 at radius 1e-2, < 1e-5 at 1e-3.
* Where the one-step step is a Newton step (Hessian = I / eta), the one-step
  truncated hypergradient *is* the bi-level one: it must match the closed
  form and 2000 unrolled steps to 1e-8.
* Gauss-Newton is exact for a lower loss that is a squared residual linear
  in theta: it must match autograd through the converged unrolled lower
  problem to 1e-7.
"""
from __future__ import annotations

import pytest


torch = pytest.importorskip('torch')

from training.hypergrad import (  # noqa: E402
    finite_difference_mixed_hvp,
    flat,
    gauss_newton_hypergradient,
    one_step_hypergradient,
    one_step_hypergradient_exact,
    one_step_outer_loss,
    unrolled_hypergradient,
    unrolled_lower_hypergradient,
)


D = torch.float64


def rel_err(a: dict, b: dict) -> float:
    fa, fb = flat(a), flat(b)
    return float(torch.linalg.vector_norm(fa - fb) / torch.linalg.vector_norm(fb))


# ---------------------------------------------------------------------------- CAF (Eq. 2-3)
def quadratic_problem(seed: int = 0):
    """L_in(w; h) = sum_i h_i 0.5 ||A_i w - b_i||^2, L_out = 0.5 ||C w - d||^2 + 0.1 ||h||^2."""
    g = torch.Generator().manual_seed(seed)
    A = [torch.randn(4, 3, generator=g, dtype=D) for _ in range(2)]
    b = [torch.randn(4, generator=g, dtype=D) for _ in range(2)]
    C, d = torch.randn(2, 3, generator=g, dtype=D), torch.randn(2, generator=g, dtype=D)

    def inner(w, h):
        return sum(h['beta'][i] * 0.5 * ((A[i] @ w['w'] - b[i]) ** 2).sum() for i in range(2))

    def outer(w, h):
        return 0.5 * ((C @ w['w'] - d) ** 2).sum() + 0.1 * (h['beta'] ** 2).sum()

    w = {'w': torch.randn(3, generator=g, dtype=D)}
    h = {'beta': torch.tensor([0.7, 0.4], dtype=D)}
    return inner, outer, w, h, (A, b, C, d)


def test_one_step_quadratic_matches_closed_form_and_autograd():
    inner, outer, w, h, (A, b, C, d) = quadratic_problem()
    eta = 0.05
    r = [A[i] @ w['w'] - b[i] for i in range(2)]
    w1 = w['w'] - eta * sum(h['beta'][i] * A[i].T @ r[i] for i in range(2))
    v = C.T @ (C @ w1 - d)
    closed = torch.stack([-eta * (A[i].T @ r[i]) @ v + 0.2 * h['beta'][i] for i in range(2)])
    approx = one_step_hypergradient(inner, outer, w, h, lr=eta)
    exact = one_step_hypergradient_exact(inner, outer, w, h, lr=eta)
    assert rel_err(exact, {'beta': closed}) < 1e-12
    assert rel_err(approx.grad, {'beta': closed}) < 1e-8
    assert approx.direct['beta'] == pytest.approx((0.2 * h['beta']).tolist(), rel=1e-12)
    assert approx.outer_loss == pytest.approx(
        float(0.5 * ((C @ w1 - d) ** 2).sum() + 0.1 * (h['beta'] ** 2).sum())
    )
    assert approx.fd_delta == pytest.approx(1e-2 / float(v.norm()))
    assert one_step_outer_loss(inner, outer, w, h, lr=eta) == pytest.approx(
        approx.outer_loss, rel=1e-12
    )


def mlp_problem(seed: int = 1):
    """Non-quadratic lower loss: a softplus MLP with loss-weights h on two targets."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 3, generator=g, dtype=D)
    y1, y2 = torch.randn(8, generator=g, dtype=D), torch.randn(8, generator=g, dtype=D)
    xv, yv = torch.randn(6, 3, generator=g, dtype=D), torch.randn(6, generator=g, dtype=D)

    def net(w, inp):
        return torch.nn.functional.softplus(inp @ w['W1']) @ w['w2']

    def inner(w, h):
        p = net(w, x)
        return h['beta'][0] * ((p - y1) ** 2).mean() + h['beta'][1] * (p - y2).abs().pow(3).mean()

    def outer(w, h):
        return ((net(w, xv) - yv) ** 2).mean()

    w = {'W1': torch.randn(3, 5, generator=g, dtype=D), 'w2': torch.randn(5, generator=g, dtype=D)}
    h = {'beta': torch.tensor([0.6, 0.3], dtype=D)}
    return inner, outer, w, h


def exact_mixed_hvp(inner, w, h, v):
    """grad_h (grad_w L_in . v) by double backward."""
    w = {k: t.clone().requires_grad_(True) for k, t in w.items()}
    h = {k: t.clone().requires_grad_(True) for k, t in h.items()}
    gw = torch.autograd.grad(inner(w, h), list(w.values()), create_graph=True)
    dot = sum((g * v[k]).sum() for g, k in zip(gw, w))
    return dict(zip(h, torch.autograd.grad(dot, list(h.values()))))


def test_finite_difference_hvp_is_second_order_accurate():
    inner, _, w, h = mlp_problem()
    g = torch.Generator().manual_seed(7)
    v = {k: torch.randn(t.shape, generator=g, dtype=D) for k, t in w.items()}
    exact = exact_mixed_hvp(inner, w, h, v)
    est2, d2 = finite_difference_mixed_hvp(inner, w, h, v, radius=1e-2)
    est3, d3 = finite_difference_mixed_hvp(inner, w, h, v, radius=1e-3)
    e2, e3 = rel_err(est2, exact), rel_err(est3, exact)
    assert d2 == pytest.approx(1e-2 / float(flat(v).norm()))
    assert e2 < 1e-4
    assert e3 < e2 / 50  # O(d^2): 10x smaller d, ~100x smaller error
    zero, d0 = finite_difference_mixed_hvp(
        inner, w, h, {k: torch.zeros_like(t) for k, t in v.items()}
    )
    assert d0 == 0.0 and float(flat(zero).abs().max()) == 0.0


def test_one_step_nonquadratic_matches_autograd_through_the_step():
    inner, outer, w, h = mlp_problem()
    eta = 0.1
    approx = one_step_hypergradient(inner, outer, w, h, lr=eta)  # radius 1e-2 (CAF's)
    fine = one_step_hypergradient(inner, outer, w, h, lr=eta, radius=1e-3)
    exact = one_step_hypergradient_exact(inner, outer, w, h, lr=eta)
    assert rel_err(approx.grad, exact) < 5e-4
    assert rel_err(fine.grad, exact) < 1e-5
    assert float(flat(approx.direct).abs().max()) == 0.0  # L_out does not read h


def test_one_step_is_the_bilevel_hypergradient_when_the_step_is_newton():
    """
    With a Newton step, the one-step and the bilevel hypergradients coincide.

    L_in = sum_i h_i 0.5 ||w - b_i||^2 has Hessian (sum h) I: with eta = 1/sum h and w = w*(h)
    the truncated and the exact hypergradients coincide; both are known in closed form.
    """
    g = torch.Generator().manual_seed(3)
    b = torch.randn(3, 4, generator=g, dtype=D)
    c = torch.randn(4, generator=g, dtype=D)
    h = {'beta': torch.tensor([0.5, 0.3, 0.2], dtype=D)}
    s = float(h['beta'].sum())
    w_star = (h['beta'][:, None] * b).sum(0) / s

    def inner(w, hh):
        return sum(hh['beta'][i] * 0.5 * ((w['w'] - b[i]) ** 2).sum() for i in range(3))

    def outer(w, hh):
        return 0.5 * ((w['w'] - c) ** 2).sum()

    closed = torch.stack([(b[i] - w_star) @ (w_star - c) / s for i in range(3)])  # dw*/dh_i . v
    approx = one_step_hypergradient(inner, outer, {'w': w_star}, h, lr=1.0 / s)
    unrolled = unrolled_hypergradient(inner, outer, {'w': w_star}, h, lr=0.2 / s, steps=2000)
    assert rel_err(unrolled, {'beta': closed}) < 1e-8
    assert rel_err(approx.grad, {'beta': closed}) < 1e-8


# ---------------------------------------------------------------------------- BDL (Eq. 4-5)
def rank_one_problem(seed: int = 4):
    """
    Return a rank-one problem: Phi = 0.5 (a.theta - c.w - e)^2.

    A squared residual linear in theta: Gauss-Newton is exact; Phi reads both w and theta.
    """
    g = torch.Generator().manual_seed(seed)
    a, c = torch.randn(3, generator=g, dtype=D), torch.randn(2, generator=g, dtype=D)
    e = 0.3
    p, q, s = (torch.randn(2, generator=g, dtype=D), torch.randn(3, generator=g, dtype=D),
               torch.randn(2, generator=g, dtype=D))

    def lower(w, t):
        return 0.5 * (a @ t['theta'] - c @ w['w'] - e) ** 2

    def upper(w, t):
        return (
            0.5 * ((w['w'] - p) ** 2).sum()
            + (q @ t['theta']) * (s @ w['w'])
            + (t['theta'] ** 3).sum()
        )

    w = {'w': torch.randn(2, generator=g, dtype=D)}
    t0 = {'theta': torch.randn(3, generator=g, dtype=D)}
    return upper, lower, w, t0, a


def test_gauss_newton_matches_converged_unrolled_lower_problem():
    upper, lower, w, t0, a = rank_one_problem()
    lr = 0.5 / float(a @ a)  # residual halves each step
    steps = 30               # residual ~1e-9 of its start: converged, but grad_t phi != 0
    t = dict(t0)
    for _ in range(steps):
        tt = t['theta'].clone().requires_grad_(True)
        gt, = torch.autograd.grad(lower(w, {'theta': tt}), [tt])
        t = {'theta': (tt - lr * gt).detach()}
    gn = gauss_newton_hypergradient(upper, lower, w, t)
    exact = unrolled_lower_hypergradient(upper, lower, w, t0, lr=lr, steps=steps)
    assert rel_err(gn.grad, exact) < 1e-7
    # without the correction (the direct gradient alone) the answer is far off
    assert rel_err(gn.direct, exact) > 1e-2


def test_gauss_newton_hand_case():
    """
    Gauss-Newton hypergradient on scalars, by hand.

    phi = 0.5 (2 t - 3 w)^2 at (w, t) = (1, 2): grad_t phi = 2, grad_w phi = -3;
    Phi = w^2 + 5 t: grad_w Phi = 2, grad_t Phi = 5 -> coefficient 5*2/4 = 2.5, G = 2 + 7.5.
    """
    def lower(w, t):
        return 0.5 * (2 * t['t'] - 3 * w['w']) ** 2

    def upper(w, t):
        return w['w'] ** 2 + 5 * t['t']

    gn = gauss_newton_hypergradient(
        upper, lower, {'w': torch.tensor(1.0, dtype=D)}, {'t': torch.tensor(2.0, dtype=D)}
    )
    assert gn.coefficient == pytest.approx(2.5)
    assert float(gn.grad['w']) == pytest.approx(9.5)
    assert float(gn.direct['w']) == pytest.approx(2.0)
    # exact: t*(w) = 1.5 w -> d/dw (w^2 + 7.5 w) = 2 w + 7.5 = 9.5
    assert gn.upper_loss == pytest.approx(11.0) and gn.lower_loss == pytest.approx(0.5)


def test_gauss_newton_without_coupling_is_the_direct_gradient():
    def lower(w, t):
        return ((t['t'] - w['w']) ** 2).sum()

    def upper(w, t):
        return (w['w'] ** 2).sum()  # does not read theta: no correction

    w = {'w': torch.tensor([1.0, -2.0], dtype=D)}
    gn = gauss_newton_hypergradient(upper, lower, w, {'t': torch.tensor([0.5, 0.5], dtype=D)})
    assert gn.coefficient == 0.0
    assert gn.grad['w'].tolist() == pytest.approx([2.0, -4.0])
    solved = gauss_newton_hypergradient(upper, lower, w, {'t': w['w'].clone()})  # grad_t phi = 0
    assert solved.coefficient == 0.0
