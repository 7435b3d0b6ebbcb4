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
WGAN-GP terms of bi-level dynamic learning (seed paper 003, Eq. 6-7).

Critic (lower) objective, Eq. 6:

    phi_V = E[T_V(u)] - E[T_V(u_m)] + eta R,   R = E[(||grad_s T_V(s)||_2 - 1)^2],

u the fused image ("fake"), u_m the VSM pseudo-fused image ("real"),
eta = 10 (Gulrajani et al.'s value; the paper leaves it open). The paper
says it uses Gulrajani et al.'s strategy, which evaluates the penalty at
random interpolates s = a u_m + (1 - a) u, a ~ U[0, 1] per sample; its
extracted formula writes the expectation over fake samples. ``at``
selects either: ``"interpolates"`` (default, Gulrajani) or ``"fake"``
(the formula as printed).

Fusion-side (upper) adversarial term of Eq. 7: -E[T_V(u)]. The norm is
taken per sample over all of its pixels and channels.
"""
from __future__ import annotations

import torch
from torch import nn, Tensor


__all__ = ['PENALTY_AT', 'gradient_penalty', 'critic_loss', 'generator_adversarial']

PENALTY_AT = ('interpolates', 'fake')


def gradient_penalty(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    at: str = 'interpolates',
    alpha: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """
    E[(||grad_s critic(s)||_2 - 1)^2] over the batch (differentiable for the critic's step).

    ``alpha`` (B,) fixes the interpolation weights (tests); otherwise they
    are drawn from U[0, 1] with ``generator``.
    """
    if at not in PENALTY_AT:
        raise ValueError(f'penalty location must be one of {PENALTY_AT}, got {at!r}')
    fake = fake.detach()
    if at == 'fake':
        s = fake
    else:
        if alpha is None:
            alpha = torch.rand(real.shape[0], generator=generator, dtype=real.dtype).to(
                real.device
            )
        a = alpha.reshape(-1, *([1] * (real.dim() - 1))).to(real)
        s = a * real.detach() + (1.0 - a) * fake
    s = s.clone().requires_grad_(True)
    grad, = torch.autograd.grad(critic(s).sum(), s, create_graph=True)
    norms = torch.linalg.vector_norm(grad.reshape(grad.shape[0], -1), dim=1)
    return ((norms - 1.0) ** 2).mean()


def critic_loss(critic: nn.Module, real: Tensor, fake: Tensor, eta: float = 10.0,
                at: str = 'interpolates', generator: torch.Generator | None = None,
                detach_fake: bool = True) -> dict[str, Tensor]:
    """
    phi_V (Eq. 6) and its parts.

    ``fake`` is detached unless ``detach_fake=False`` (a hypergradient that
    needs d phi_V / d omega through E T_V(u)); the penalty always sees it
    detached: it regularises the critic, not the fusion network.
    """
    w_fake = critic(fake.detach() if detach_fake else fake).mean()
    w_real = critic(real).mean()
    gp = gradient_penalty(critic, real, fake, at=at, generator=generator)
    return {'total': w_fake - w_real + eta * gp, 'wasserstein': w_real - w_fake, 'penalty': gp}


def generator_adversarial(critic: nn.Module, fused: Tensor) -> Tensor:
    """-E[T_V(u)] (Eq. 7's adversarial term; gradients reach the fusion network)."""
    return -critic(fused).mean()
