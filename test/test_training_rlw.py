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

"""Random loss weighting (training.weighting.rlw): distribution, seeding, resume, trainer."""
from __future__ import annotations

import math
from pathlib import Path

import pytest


torch = pytest.importorskip('torch')

from learning_to_learn_data import one_thread  # noqa: E402,F401,I100
from training.config import load_config  # noqa: E402
from training.weighting import build_weighting, RLW  # noqa: E402


REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors on a shared CPU


def L(f, c):
    return {'fusion': torch.tensor(float(f)), 'csc': torch.tensor(float(c))}


def test_weights_are_a_softmax_of_normal_draws():
    """
    Two tasks: the weights are a softmax of normal draws.

    w_f = sigmoid(z_f - z_c) with z_f - z_c ~ N(0, 2), so E[w_f] = 1/2 and
    P(w_f < sigmoid(sqrt(2))) = Phi(1) = 0.8413; over 20000 draws both within 0.01.
    """
    r = build_weighting('rlw', seed=3)
    assert isinstance(r, RLW)
    draws = [r.weights(L(1, 1)) for _ in range(20000)]
    assert all(abs(d['fusion'] + d['csc'] - 1.0) < 1e-12 for d in draws)
    wf = torch.tensor([d['fusion'] for d in draws], dtype=torch.float64)
    assert float(wf.mean()) == pytest.approx(0.5, abs=0.01)
    cut = 1.0 / (1.0 + math.exp(-math.sqrt(2.0)))
    assert float((wf < cut).double().mean()) == pytest.approx(0.8413, abs=0.01)
    assert len(set(wf.tolist())) == 20000  # redrawn every step
    assert r.last['lam'] == draws[-1]


def test_sigma_scales_the_spread_and_relative_form():
    narrow = RLW(sigma=0.01, seed=0)
    w = narrow.weights(L(1, 1))
    assert w['fusion'] == pytest.approx(0.5, abs=0.02)
    rel = RLW(seed=5, relative=True)
    ref = RLW(seed=5)
    a, b = rel.weights(L(1, 1)), ref.weights(L(1, 1))
    assert a['fusion'] == 1.0 and a['csc'] == pytest.approx(b['csc'] / b['fusion'])
    with pytest.raises(ValueError):
        RLW(sigma=0.0)


def test_seeded_and_resumable():
    a, b = RLW(seed=11), RLW(seed=11)
    assert [a.weights(L(1, 1)) for _ in range(3)] == [b.weights(L(1, 1)) for _ in range(3)]
    state = a.state_dict()
    nxt = a.weights(L(1, 1))
    c = RLW(seed=999)
    c.load_state_dict(state)
    assert c.weights(L(1, 1)) == nxt
    # the stream does not depend on which tasks a step has (Stage I: fusion only)
    d, e = RLW(seed=2), RLW(seed=2)
    d.weights({'fusion': torch.tensor(1.0)})
    e.weights(L(1, 1))
    assert d.weights(L(1, 1)) == e.weights(L(1, 1))
    assert RLW(seed=1).weights(L(1, 1)) != RLW(seed=2).weights(L(1, 1))


def test_ablation_config_trains_with_rlw(tmp_path):
    from learning_to_learn_data import Pairs, TINY_REALTIME
    from training.logging import ScalarLogger
    from training.trainer import train

    cfg = load_config(
        REPO / 'config' / 'training' / 'ablations' / 'rlw.yaml',
        [
            *TINY_REALTIME,
            'data.workers=0',
            'log_every=1',
            'grid_samples=0',
            'device=cpu',
            f'output_dir={tmp_path}',
            'epochs=1',
            'max_steps_per_epoch=1',
            'two_stage=false',
            'data.kind=pairs',
            'grad_analysis=false',
        ],
    )
    assert cfg.weighting.name == 'rlw' and cfg.weighting.options == {'sigma': 1.0, 'seed': 0}
    res = train(cfg, progress=False, datasets=(Pairs(2), Pairs(1, seed=1)))
    rows = ScalarLogger(res.scalars_csv).read()
    wf = [r['value'] for r in rows if r['scope'] == 'step' and r['key'] == 'w_fusion']
    wc = [r['value'] for r in rows if r['scope'] == 'step' and r['key'] == 'w_csc']
    ref = RLW(seed=0)
    expect = [ref.weights(L(1, 1)) for _ in wf]
    assert len(wf) == 1
    assert wf == pytest.approx([e['fusion'] for e in expect]) and wc == pytest.approx(
        [e['csc'] for e in expect]
    )
