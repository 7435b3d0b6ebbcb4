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
CAF and bi-level dynamic learning against the papers and the authors' code (issue 19).

* CAF's virtual step is the fusion optimiser's next SGD step (momentum
  buffer and weight decay included, as the authors' DARTS-style architect
  takes it): the analytic one-step hypergradient must equal autograd
  through that step written out here (float64: 1e-8 where L_in is
  quadratic in w, 1e-5 on a softplus MLP at radius 1e-3: the central
  difference is O(d^2)), and the search must evaluate the outer loss at
  exactly that w'.
* CAF's task network can start from given weights (``task.init``) or warm
  up with beta frozen (``search.warmup_steps``).
* Bi-level: the shipped configs carry the paper's lower-level settings (10
  lower steps, 2e-4) and a step really takes that many critic and
  segmenter steps.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest


torch = pytest.importorskip('torch')

from learning_to_learn_data import one_thread, Pairs, TINY_DENSE  # noqa: E402,F401,I100
from training.caf.config import load_caf_config  # noqa: E402
from training.config import ConfigError, load_config  # noqa: E402
from training.hypergrad import (  # noqa: E402
    flat,
    one_step_hypergradient,
    one_step_hypergradient_exact,
)


REPO = Path(__file__).resolve().parents[1]
D = torch.float64
pytestmark = pytest.mark.usefixtures('one_thread')


def rel_err(a: dict, b: dict) -> float:
    fa, fb = flat(a), flat(b)
    return float(torch.linalg.vector_norm(fa - fb) / torch.linalg.vector_norm(fb))


# ---------------------------------------------------------------------------- CAF virtual step
def _problems(seed: int = 0):
    """Return a lower loss quadratic in w and a softplus MLP one, both weighted by h."""
    g = torch.Generator().manual_seed(seed)
    A = [torch.randn(5, 3, generator=g, dtype=D) for _ in range(2)]
    b = [torch.randn(5, generator=g, dtype=D) for _ in range(2)]
    x, y = torch.randn(8, 3, generator=g, dtype=D), torch.randn(8, generator=g, dtype=D)
    xv, yv = torch.randn(6, 3, generator=g, dtype=D), torch.randn(6, generator=g, dtype=D)

    def net(w, inp):
        return torch.nn.functional.softplus(inp @ w['W1']) @ w['w2']

    quad = (
        lambda w, h: sum(h['beta'][i] * 0.5 * ((A[i] @ w['W1'][:, 0] - b[i]) ** 2).sum()
                         for i in range(2)) + 0.0 * w['w2'].sum(),
        lambda w, h: 0.5 * ((net(w, xv) - yv) ** 2).mean(),
    )
    mlp = (
        lambda w, h: h['beta'][0] * ((net(w, x) - y) ** 2).mean()
        + h['beta'][1] * (net(w, x) - 0.5 * y).abs().pow(3).mean(),
        lambda w, h: ((net(w, xv) - yv) ** 2).mean(),
    )
    w = {'W1': torch.randn(3, 4, generator=g, dtype=D), 'w2': torch.randn(4, generator=g, dtype=D)}
    buf = {k: torch.randn(v.shape, generator=g, dtype=D) for k, v in w.items()}
    h = {'beta': torch.tensor([0.6, 0.3], dtype=D)}
    return {'quadratic': quad, 'mlp': mlp}, w, buf, h


def unrolled_by_hand(inner, outer, w, h, eta, mu, wd, buf):
    """Return dL_out(w'; h)/dh by autograd, w' = w - eta (mu buf + grad_w L_in(w; h) + wd w)."""
    h = {k: v.clone().requires_grad_(True) for k, v in h.items()}
    w = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    g = torch.autograd.grad(inner(w, h), list(w.values()), create_graph=True)
    w1 = {k: w[k] - eta * (mu * buf[k] + gk + wd * w[k]) for k, gk in zip(w, g)}
    return dict(zip(h, torch.autograd.grad(outer(w1, h), list(h.values())))), w1


@pytest.mark.parametrize('kind, radius, tol', [('quadratic', 1e-2, 1e-8), ('mlp', 1e-3, 1e-5)])
def test_one_step_hypergradient_with_momentum_and_decay_matches_the_unrolled_step(
        kind, radius, tol):
    problems, w, buf, h = _problems()
    inner, outer = problems[kind]
    eta, mu, wd = 0.1, 0.9, 3e-2
    ref, w1 = unrolled_by_hand(inner, outer, w, h, eta, mu, wd, buf)
    terms = {'momentum': mu, 'weight_decay': wd, 'momentum_buffer': buf}
    approx = one_step_hypergradient(inner, outer, w, h, lr=eta, radius=radius, **terms)
    exact = one_step_hypergradient_exact(inner, outer, w, h, lr=eta, **terms)
    assert rel_err(exact, ref) < 1e-12
    assert rel_err(approx.grad, ref) < tol
    assert approx.outer_loss == pytest.approx(float(outer(w1, h).detach()), rel=1e-12)
    # the optimiser terms matter here: the plain step's hypergradient is far from this one
    plain = one_step_hypergradient(inner, outer, w, h, lr=eta)
    assert rel_err(plain.grad, ref) > 1e-2


def test_virtual_step_is_the_sgd_optimiser_next_step():
    from training.hypergrad import virtual_step

    g = torch.Generator().manual_seed(5)
    p = torch.nn.Parameter(torch.randn(7, generator=g, dtype=D))
    opt = torch.optim.SGD([p], lr=0.05, momentum=0.9, weight_decay=3e-4)
    for _ in range(2):  # fill the momentum buffer
        p.grad = torch.randn(7, generator=g, dtype=D)
        opt.step()
    grad = torch.randn(7, generator=g, dtype=D)
    buf = opt.state[p]['momentum_buffer'].clone()
    w1 = virtual_step({'p': p.detach()}, {'p': grad}, 0.05, 0.9, 3e-4, {'p': buf})
    p.grad = grad
    opt.step()
    assert torch.allclose(w1['p'], p.detach(), rtol=0, atol=1e-15)
    # defaults: the plain step of Eq. 2
    plain = virtual_step({'p': p.detach()}, {'p': grad}, 0.05)
    assert torch.equal(plain['p'], p.detach() - 0.05 * grad)


def _search_cfg(tmp_path, *extra):
    return load_caf_config(
        REPO / 'config' / 'training' / 'caf_search.yaml',
        ['data.crop=24', 'data.batch_size=2',
         'model.backbone_kwargs={width: 4, growth: 4, layers: 1, blocks: 1}',
         'task.width=4', 'task.num_classes=2', 'search.max_steps_per_epoch=2', 'search.epochs=1',
         'space.searched=[l1_ir, l1_vis, mse_max, grad_max]', 'space.fixed={}',
         f'output_dir={tmp_path}', *extra],
    )


def _batches(n: int = 2):
    tr, va = Pairs(4, size=24, labels=True), Pairs(4, size=24, seed=1, labels=True)
    stack = (lambda ds: {k: (torch.stack([ds[i][k] for i in range(n)]))
                         for k in ('visible', 'thermal', 'label')})
    return stack(tr), stack(va)


@pytest.mark.parametrize('mode', ['optimizer', 'plain'])
def test_search_measures_the_outer_loss_at_the_optimiser_virtual_step(tmp_path, mode):
    from training.caf.search import LossSearch

    cfg = _search_cfg(tmp_path, f'search.virtual_step={mode}')
    s = cfg.search
    search = LossSearch(cfg, datasets=(Pairs(4, labels=True), Pairs(4, seed=1, labels=True)))
    assert search.opt_fusion.param_groups[0]['weight_decay'] == s.fusion_weight_decay
    b, v = _batches()
    alpha = search.alpha.detach().clone()
    rec = search.step(b, v)          # T step, F step (fills the buffer), then beta
    params = {k: p.detach().clone().requires_grad_(True)
              for k, p in search.fusion.named_parameters()}
    h = {'alpha': alpha}
    g = torch.autograd.grad(search.inner_loss(b)(params, h), list(params.values()))
    mu, wd = (s.fusion_momentum, s.fusion_weight_decay) if mode == 'optimizer' else (0.0, 0.0)
    bufs = {k: search.opt_fusion.state[p]['momentum_buffer']
            for k, p in search.fusion.named_parameters()}
    with torch.no_grad():
        w1 = {k: params[k] - s.fusion_lr * (mu * bufs[k] + gk + wd * params[k])
              for k, gk in zip(params, g)}
        plain = {k: params[k] - s.fusion_lr * gk for k, gk in zip(params, g)}
        expect = float(search.outer_loss(v)(w1, h))
        without = float(search.outer_loss(v)(plain, h))
    assert rec['L_outer_before'] == pytest.approx(expect, rel=1e-5, abs=1e-7)
    if mode == 'optimizer':
        assert abs(expect - without) > 1e-6  # the buffer moved w' measurably


def test_caf_config_defaults_follow_the_authors_code():
    cfg = load_caf_config(REPO / 'config' / 'training' / 'caf_search.yaml')
    s = cfg.search
    assert (s.virtual_step, s.fusion_momentum, s.fusion_weight_decay) == ('optimizer', 0.9, 3e-4)
    assert s.warmup_steps == 0 and cfg.task.init is None
    for bad, key in (('search.virtual_step=adam', 'virtual_step'),
                     ('search.fusion_weight_decay=-1', 'fusion_weight_decay'),
                     ('search.fusion_momentum=1.0', 'fusion_momentum'),
                     ('search.warmup_steps=-1', 'warmup_steps')):
        with pytest.raises(ConfigError, match=key):
            load_caf_config(None, [bad])


# ---------------------------------------------------------------------------- CAF task network
def test_task_network_starts_from_given_weights(tmp_path):
    from training.caf.build import build_task_model
    from training.caf.search import LossSearch

    cfg = _search_cfg(tmp_path / 'a')
    torch.manual_seed(123)
    trained = build_task_model(cfg.task)
    torch.save(trained.state_dict(), tmp_path / 'task.pt')
    data = (Pairs(4, labels=True), Pairs(4, seed=1, labels=True))
    search = LossSearch(_search_cfg(tmp_path / 'a', f"task.init={tmp_path / 'task.pt'}"),
                        datasets=data)
    own = search.task.state_dict()
    assert all(torch.equal(own[k], t) for k, t in trained.state_dict().items())
    fresh = LossSearch(_search_cfg(tmp_path / 'b'), datasets=data).task.state_dict()
    assert not all(torch.equal(fresh[k], t) for k, t in trained.state_dict().items())
    # a previous search's last.pt works too (its task network, relative to the YAML's folder)
    torch.save({'models': {'task': trained.state_dict()}}, tmp_path / 'last.pt')
    cfg = _search_cfg(tmp_path / 'c', 'task.init=last.pt')
    cfg.base_dir = str(tmp_path)
    again = LossSearch(cfg, datasets=data).task.state_dict()
    assert all(torch.equal(again[k], t) for k, t in trained.state_dict().items())
    with pytest.raises(ConfigError, match='task.init.*does not fit'):
        LossSearch(_search_cfg(tmp_path / 'd', 'task.width=8',
                               f"task.init={tmp_path / 'task.pt'}"), datasets=data)
    with pytest.raises(ConfigError, match='task.init: no weights file'):
        LossSearch(_search_cfg(tmp_path / 'e', f"task.init={tmp_path / 'none.pt'}"),
                   datasets=data)


def test_warmup_trains_the_task_network_with_beta_frozen(tmp_path):
    from training.caf.search import LossSearch

    data = (Pairs(4, labels=True), Pairs(4, seed=1, labels=True))
    warm = LossSearch(_search_cfg(tmp_path / 'w', 'search.warmup_steps=2'), datasets=data)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in warm.task.state_dict().items()}
    res = warm.run()
    assert torch.equal(warm.alpha.detach(), torch.zeros(4))  # beta still uniform
    assert set(res.beta.values()) == {0.25} and not warm.opt_alpha.state
    assert not all(torch.equal(before[k], v) for k, v in warm.task.state_dict().items())
    assert res.history[0]['mean_warmup'] == 1.0 and 'mean_L_outer_before' in res.history[0]
    one = LossSearch(_search_cfg(tmp_path / 'o', 'search.warmup_steps=1'), datasets=data).run()
    assert max(abs(b - 0.25) for b in one.beta.values()) > 1e-4  # the second step moved beta


# ---------------------------------------------------------------------------- bi-level
def test_bilevel_configs_carry_the_paper_lower_level_settings():
    from training.frameworks.bilevel import BilevelDynamic

    defaults = inspect.signature(BilevelDynamic.__init__).parameters
    assert defaults['lower_steps'].default == 10 and defaults['lr'].default == 2e-4
    assert defaults['lower_lr'].default is None  # the paper's "same learning rate"
    for name in ('bilevel_roadscene_cpu.yaml', 'bilevel_synthetic_cpu.yaml'):
        opts = load_config(REPO / 'config' / 'training' / name).framework_options
        assert opts['lower_steps'] == 10 and opts['lower_lr'] == 2e-4, name
    for bad in ('0', '2.5', 'true'):
        with pytest.raises(ConfigError, match='lower_steps'):
            load_config(None, TINY_DENSE + ['framework=bilevel_visual',
                                            f'framework_options={{lower_steps: {bad}}}'])


def test_a_bilevel_step_takes_the_configured_lower_steps():
    from training.frameworks.base import StepContext
    from training.frameworks.bilevel import BilevelDynamic

    shipped = load_config(REPO / 'config' / 'training' / 'bilevel_synthetic_cpu.yaml')
    k = shipped.framework_options['lower_steps']
    cfg = load_config(None, TINY_DENSE + ['framework=bilevel', 'model.seg_classes=2'])
    fw = BilevelDynamic(cfg, warm_start_epochs=0, critic_width=4, task_width=4, lower_steps=k,
                        lower_lr=shipped.framework_options['lower_lr'])
    mods = fw.build_modules()
    ctx = StepContext(modules=mods, optimizers={}, device=torch.device('cpu'), stage=2,
                      global_step=0, epoch=0, check_finite=lambda losses: None)
    opts = fw._sgd(ctx)
    counts = dict.fromkeys(opts, 0)
    for name, opt in opts.items():
        def counted(*a, _step=opt.step, _name=name, **kw):
            counts[_name] += 1
            return _step(*a, **kw)
        opt.step = counted
    assert opts['critic'].param_groups[0]['lr'] == pytest.approx(2e-4)
    ds = Pairs(4, size=24, labels=True)
    batch = {key: torch.stack([ds[i][key] for i in range(4)])
             for key in ('visible', 'thermal', 'label')}
    critic0 = [p.detach().clone() for p in mods['critic'].parameters()]
    rec = fw.train_step(batch, ctx)
    assert counts == {'fusion': 1, 'critic': k, 'task': k}
    assert 'gn_coef_perception' in rec
    assert any(not torch.equal(a, b) for a, b in zip(critic0, mods['critic'].parameters()))
