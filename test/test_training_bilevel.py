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

"""Bi-level dynamic learning (seed paper 003): GP, critic, VSM, dense residual net, framework."""
from __future__ import annotations

from pathlib import Path

import pytest


torch = pytest.importorskip('torch')

from learning_to_learn_data import one_thread, Pairs, TINY_DENSE  # noqa: E402,F401,I100
from training.config import ConfigError, load_config  # noqa: E402
from training.losses.adversarial import (  # noqa: E402
    critic_loss,
    generator_adversarial,
    gradient_penalty,
)
from training.losses.saliency import pseudo_fused, vsm_saliency, vsm_weights  # noqa: E402


REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors on a shared CPU


class Linear(torch.nn.Module):
    """T(x) = sum(w * x): its input gradient is w everywhere."""

    def __init__(self, w: float):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(float(w)))

    def forward(self, x):
        return (self.w * x).flatten(1).sum(1)


class Half(torch.nn.Module):
    """T(x) = 0.5 ||x||^2: its input gradient is x."""

    def forward(self, x):
        return 0.5 * (x ** 2).flatten(1).sum(1)


# ---------------------------------------------------------------------------- WGAN-GP
def test_gradient_penalty_hand_cases():
    real, fake = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    # linear critic: ||grad|| = |w| sqrt(4): w = 0.5 -> 1 -> penalty 0; w = 1 -> 2 -> penalty 1
    assert float(gradient_penalty(Linear(0.5), real, fake).detach()) == pytest.approx(
        0.0, abs=1e-12
    )
    assert float(gradient_penalty(Linear(1.0), real, fake).detach()) == pytest.approx(1.0)
    # 0.5||x||^2 at interpolates a*1 + (1-a)*0 = a: ||grad|| = 2a -> (2a - 1)^2; a = (0.25, 1)
    gp = gradient_penalty(Half(), real, fake, alpha=torch.tensor([0.25, 1.0]))
    assert float(gp.detach()) == pytest.approx(((0.5 - 1) ** 2 + (2 - 1) ** 2) / 2)  # 0.625
    # at the fake samples (the formula as printed): ||0|| = 0 -> penalty 1
    assert float(gradient_penalty(Half(), real, fake, at='fake').detach()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='penalty location'):
        gradient_penalty(Half(), real, fake, at='real')


def test_critic_loss_and_generator_term_hand_case():
    """
    Critic loss and generator term on a hand case.

    T(x) = w sum(x) with w = 1 on 2x2: T(real=1) = 4, T(fake=0) = 0, ||grad|| = 2 -> GP 1:
    phi_V = 0 - 4 + 10 * 1 = 6;
    d phi_V / dw = sum(fake) - sum(real) + 10 d(2|w|-1)^2/dw = -4 + 40.
    """
    critic = Linear(1.0)
    real, fake = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    out = critic_loss(critic, real, fake, eta=10.0)
    assert float(out['total'].detach()) == pytest.approx(6.0) and float(
        out['penalty'].detach()
    ) == pytest.approx(1.0)
    assert float(out['wasserstein'].detach()) == pytest.approx(4.0)
    out['total'].backward()
    assert float(critic.w.grad) == pytest.approx(36.0)
    fused = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    adv = generator_adversarial(critic, fused)
    assert float(adv.detach()) == pytest.approx(-2.0)
    adv.backward()
    assert fused.grad.tolist() == [[[[-1.0, -1.0], [-1.0, -1.0]]]]
    # detach_fake=False lets d phi_V / d u through E T(u) (the penalty stays on the critic)
    u = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    critic_loss(Linear(1.0), real, u, detach_fake=False)['total'].backward()
    assert u.grad.tolist() == [[[[1.0, 1.0], [1.0, 1.0]]]]


def test_patch_critic_scores_each_image():
    from training.models.discriminator import PatchCritic

    c = PatchCritic(1, width=4, depth=3)
    assert c(torch.rand(3, 1, 32, 32)).shape == (3,)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in c.modules())


# ---------------------------------------------------------------------------- VSM
def test_vsm_hand_case():
    """Three pixels at 0, one at 1 (level 255): V(0) = 1*255, V(255) = 3*255 -> (1/3, 1)."""
    ir = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]])
    assert vsm_saliency(ir).flatten().tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0])
    vis = torch.full((1, 3, 2, 2), 0.4)  # flat: saliency 0 everywhere
    assert float(vsm_saliency(vis).abs().max()) == 0.0
    m_ir, m_vis = vsm_weights(ir, vis)
    assert m_ir.flatten().tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1.0])
    assert (m_ir + m_vis).flatten().tolist() == pytest.approx([1.0] * 4)
    u_m = pseudo_fused(ir, vis)
    assert u_m.flatten().tolist() == pytest.approx([0.4 / 3, 0.4 / 3, 0.4 / 3, 1.0], rel=1e-5)


def test_saliency_pixel_loss_hand_case():
    from training.losses.saliency import saliency_pixel_loss

    ir, vis = torch.full((2, 1, 4, 4), 1.0), torch.zeros(2, 3, 4, 4)  # flat: weights 0.5 / 0.5
    # per image: 16 pixels x (0.5 * 0.75^2 + 0.5 * 0.25^2) = 5; mean over the batch of 2
    assert float(saliency_pixel_loss(torch.full((2, 1, 4, 4), 0.25), ir, vis)) == pytest.approx(
        5.0
    )


# ---------------------------------------------------------------------------- network
def test_dense_residual_backbone():
    from training.models import build_fusion_model
    from training.models.dense_residual import DenseResidualBackbone, DilatedResidualDenseBlock

    block = DilatedResidualDenseBlock(4, growth=2, layers=3, dilation=2)
    torch.nn.init.zeros_(block.fuse.weight)
    torch.nn.init.zeros_(block.fuse.bias)
    x = torch.rand(1, 4, 9, 9)
    assert torch.equal(block(x), x)  # residual: a zero fusion conv passes the input through
    assert [m.dilation for m in block.modules() if isinstance(m, torch.nn.Conv2d)][:3] == [
        (2, 2)
    ] * 3
    net = DenseResidualBackbone(in_channels=1, width=8, growth=4, layers=2, blocks=2)
    assert len(net.blocks) == 2 and net(
        torch.rand(2, 1, 20, 18), torch.rand(2, 1, 20, 18)
    ).shape == (2, 8, 20, 18)
    model = build_fusion_model('dense_residual', in_channels=1, width=8, growth=4, layers=2)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 24, 20), torch.rand(1, 1, 24, 20))
    assert (
        out.fused.shape == (1, 3, 24, 20)
        and 0 <= float(out.fused.min()) <= float(out.fused.max()) <= 1
    )


# ---------------------------------------------------------------------------- framework
def _cfg(tmp_path, framework, *extra):
    return load_config(
        None, TINY_DENSE + [f'framework={framework}', f'output_dir={tmp_path}', *extra]
    )


def test_bilevel_visual_warm_start_then_bilevel_steps_and_resume(tmp_path):
    from training.logging import ScalarLogger
    from training.trainer import train

    opts = ('framework_options={warm_start_epochs: 1, lr: 0.001, lower_lr: 0.01, milestones: [2],'
            ' critic_width: 4}')
    data = (Pairs(4), Pairs(2, seed=1))
    full = train(
        _cfg(tmp_path / 'full', 'bilevel_visual', opts, 'epochs=3'), progress=False, datasets=data
    )
    assert [h['stage'] for h in full.history] == [1, 2, 2]
    assert 'train_L_visual' in full.history[1] and 'train_L_visual' not in full.history[0]
    rows = ScalarLogger(full.scalars_csv).read()
    lr = {r['epoch']: r['value'] for r in rows if r['scope'] == 'step' and r['key'] == 'lr'}
    assert lr == pytest.approx({1: 1e-3, 2: 1e-3, 3: 1e-4})  # 10x decay at the milestone
    coef = [r['value'] for r in rows if r['key'] == 'gn_coef_visual']
    assert coef and all(c == c for c in coef)  # the Gauss-Newton correction was computed
    # interrupted after 2 epochs and resumed: same weights as the uninterrupted run
    train(
        _cfg(tmp_path / 'cut', 'bilevel_visual', opts, 'epochs=2'), progress=False, datasets=data
    )
    res = train(
        _cfg(tmp_path / 'cut', 'bilevel_visual', opts, 'epochs=3'),
        progress=False,
        datasets=data,
        resume='auto',
    )
    from training.checkpoint import load_checkpoint

    a = load_checkpoint(full.last_checkpoint)['models']['fusion']
    b = load_checkpoint(res.last_checkpoint)['models']['fusion']
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bilevel_with_perception_uses_rlw_and_labels(tmp_path):
    from training.logging import ScalarLogger
    from training.trainer import train
    from training.weighting import RLW

    cfg = _cfg(tmp_path, 'bilevel', 'model.seg_classes=2', 'epochs=2',
               'framework_options={warm_start_epochs: 1, lr: 0.001, task_width: 4,'
               ' critic_width: 4,'
               ' rlw_seed: 4}')
    res = train(
        cfg, progress=False, datasets=(Pairs(4, labels=True), Pairs(2, seed=1, labels=True))
    )
    rows = ScalarLogger(res.scalars_csv).read()
    lam = [r['value'] for r in rows if r['key'] == 'lam_visual']
    ref = RLW(seed=4, tasks=('visual', 'perception'))
    assert lam == pytest.approx([ref.draw()['visual'] for _ in lam]) and len(lam) == 2
    h = res.history[1]
    assert h['train_L_upper'] == pytest.approx(h['train_L_visual'] + h['train_L_perception'])
    assert 'val_L_perception' in h
    with pytest.raises(RuntimeError, match='needs labels'):
        train(cfg, progress=False, datasets=(Pairs(4), Pairs(2, seed=1)))


def test_bilevel_config_errors_and_shipped_configs():
    with pytest.raises(ConfigError, match='batch_size'):
        load_config(None, TINY_DENSE + ['framework=bilevel_visual', 'data.batch_size=1'])
    with pytest.raises(ConfigError, match='gp_at'):
        load_config(None, TINY_DENSE + ['framework=bilevel', 'framework_options={gp_at: real}'])
    with pytest.raises(ConfigError, match='lr_typo'):
        load_config(None, TINY_DENSE + ['framework=bilevel', 'framework_options={lr_typo: 1}'])
    for name in ('bilevel_roadscene_cpu.yaml', 'bilevel_synthetic_cpu.yaml'):
        cfg = load_config(REPO / 'config' / 'training' / name)
        assert cfg.framework.startswith('bilevel') and cfg.model.backbone == 'dense_residual'
