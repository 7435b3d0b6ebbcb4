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

"""Loss-weighting strategies against hand-computed numbers."""
from __future__ import annotations

import math

import pytest


torch = pytest.importorskip('torch')

from training.weighting import (  # noqa: E402
    build_weighting,
    DWA,
    FixedWeighting,
    GDWA,
    gdwa_lambdas,
    SegMiFWeighting,
    UncertaintyWeighting,
    WeightingContext,
)


E25 = math.exp(0.25)  # exp(r/T) ratio for rates (.5, 1) with T = 2


def L(f, c):
    return {'fusion': torch.tensor(float(f)), 'csc': torch.tensor(float(c))}


def ctx(gf, gc, step=0):
    return WeightingContext(step=step, grad_norms={'fusion': gf, 'csc': gc})


def test_registry():
    assert isinstance(build_weighting('fixed'), FixedWeighting)
    assert isinstance(build_weighting('UCW'), UncertaintyWeighting)
    assert isinstance(build_weighting('dwa', T=1.0), DWA)
    assert isinstance(build_weighting('segmif'), SegMiFWeighting)
    g = build_weighting('gdwa', norm_every=4)
    assert isinstance(g, GDWA) and g.needs_grad_norms and g.norm_every == 4
    assert not build_weighting('dwa').needs_grad_norms
    with pytest.raises(KeyError):
        build_weighting('gradnorm')


def test_fixed():
    w = build_weighting('fixed').weights(L(1, 1))
    assert w == {'fusion': 1.0, 'csc': 0.1}
    assert build_weighting('fixed', omega_csc=0.5).weights(L(1, 1))['csc'] == 0.5


def test_dwa_hand():
    d = DWA()
    assert d.weights(L(1, 1)) == {'fusion': 1.0, 'csc': 1.0}  # no history
    d.epoch_end({'fusion': 1.0, 'csc': 2.0})
    assert d.weights(L(1, 1)) == {'fusion': 1.0, 'csc': 1.0}  # one epoch only
    d.epoch_end({'fusion': 0.5, 'csc': 2.0})  # r = (.5, 1)
    w = d.weights(L(1, 1))
    # w_f = 2 e^{.25} / (e^{.25} + e^{.5}) = 2 / (1 + e^{.25})
    assert w['fusion'] == pytest.approx(2 / (1 + E25))
    assert w['csc'] == pytest.approx(2 * E25 / (1 + E25))
    assert w['fusion'] == pytest.approx(0.875647, abs=1e-6)
    # Eq. 2 form: csc / fusion = e^{.25}
    d_rel = DWA(relative=True)
    d_rel.load_state_dict(d.state_dict())
    assert d_rel.weights(L(1, 1)) == pytest.approx({'fusion': 1.0, 'csc': E25})


def test_dwa_waits_for_csc_history_after_stage_one():
    d = DWA()
    d.epoch_end({'fusion': 3.0})  # stage I
    d.epoch_end({'fusion': 2.0, 'csc': 1.0})
    assert d.weights(L(1, 1)) == {'fusion': 1.0, 'csc': 1.0}


def test_segmif_hand():
    s = SegMiFWeighting()  # eta = (2, 1)
    assert s.weights(L(1, 1)) == pytest.approx({'fusion': 1.0, 'csc': 0.5})  # eta / K
    s.epoch_end({'fusion': 1.0, 'csc': 2.0})
    s.epoch_end({'fusion': 0.5, 'csc': 2.0})
    w = s.weights(L(1, 1))
    assert w['fusion'] == pytest.approx(2 * 1 / (1 + E25))  # 0.875647
    assert w['csc'] == pytest.approx(1 * E25 / (1 + E25))  # 0.562177
    s3 = SegMiFWeighting(eta={'fusion': 3.0, 'csc': 1.0}, relative=True)
    s3.load_state_dict({'history': s.history})
    assert s3.weights(L(1, 1))['csc'] == pytest.approx(E25 / 3)
    with pytest.raises(ValueError):
        SegMiFWeighting(eta={'fusion': 1.0})


def test_ucw_hand_and_gradient():
    u = UncertaintyWeighting()
    losses = {'fusion': torch.tensor(3.0), 'csc': torch.tensor(1.0)}
    w = u.weights(losses)
    assert w['fusion'].item() == pytest.approx(0.5) and w['csc'].item() == pytest.approx(0.5)
    total = u.total(losses, w)  # .5*3 + .5*1 + 0
    assert total.item() == pytest.approx(2.0)
    total.backward()
    # d/ds (.5 e^{-s} L + .5 s) at s = 0: -.5 L + .5
    assert u.log_vars['fusion'].grad.item() == pytest.approx(-1.0)
    assert u.log_vars['csc'].grad.item() == pytest.approx(0.0)
    assert len(u.parameters()) == 2
    u2 = UncertaintyWeighting()
    u2.load_state_dict({'history': {}, 'log_vars': {'fusion': math.log(2.0), 'csc': 0.0}})
    assert u2.weights(losses)['fusion'].item() == pytest.approx(0.25)
    assert u2.regularizer().item() == pytest.approx(0.5 * math.log(2.0))
    # stage I (fusion only): csc's penalty is not added
    only_f = u2.total({'fusion': torch.tensor(4.0)}, u2.weights({'fusion': torch.tensor(4.0)}))
    assert only_f.item() == pytest.approx(0.25 * 4 + 0.5 * math.log(2.0))


def test_gdwa_pure_formula():
    p = gdwa_lambdas({'fusion': 3.0, 'csc': 1.0}, {'fusion': 1.0, 'csc': 1.0}, T=2.0)
    assert p['g_tilde'] == pytest.approx({'fusion': 0.75, 'csc': 0.25})
    assert p['s'] == pytest.approx({'fusion': 0.5, 'csc': 0.5})
    assert p['lam'] == pytest.approx({'fusion': 0.75, 'csc': 0.25})


def test_gdwa_first_stage2_epoch_and_running_rates():
    g = GDWA()
    g.epoch_end({'fusion': 2.0})  # last stage-I epoch
    # first stage-II epoch: csc has no previous epoch -> r = (1, 1), s = 1/2
    w = g.weights(L(1.0, 4.0), ctx(3.0, 1.0))
    assert w == pytest.approx({'fusion': 1.0, 'csc': 1 / 3})
    assert g.last['lam']['fusion'] == pytest.approx(0.75)
    g.epoch_end({'fusion': 1.0, 'csc': 4.0})
    # next epoch, running mean so far (.5, 4) vs previous (1, 4): r = (.5, 1)
    w = g.weights(L(0.5, 4.0), ctx(1.0, 1.0, step=1))
    assert g.last['r'] == pytest.approx({'fusion': 0.5, 'csc': 1.0})
    assert g.last['lam']['fusion'] == pytest.approx(1 / (1 + E25))  # 0.4378235
    assert w['csc'] == pytest.approx(E25)  # omega = s_B / s_A
    # second step: running mean (.5+1.5)/2 = 1 -> r = (1, 1), omega = g_B/g_A = 1
    w = g.weights(L(1.5, 4.0), ctx(1.0, 1.0, step=2))
    assert w['csc'] == pytest.approx(1.0)


def test_gdwa_completed_and_partial_rates():
    g = GDWA(rate_source='completed', relative=False)
    g.epoch_end({'fusion': 2.0})
    g.epoch_end({'fusion': 1.0, 'csc': 4.0})
    # csc has one completed epoch only -> r = 1 for all (warm-up "ones")
    assert g.weights(L(9, 9), ctx(1.0, 1.0)) == pytest.approx({'fusion': 0.5, 'csc': 0.5})
    g.epoch_end({'fusion': 0.5, 'csc': 4.0})  # r = (.5, 1)
    w = g.weights(L(9, 9), ctx(1.0, 1.0))
    assert w['fusion'] == pytest.approx(1 / (1 + E25))
    p = GDWA(warmup_rates='partial')
    p.epoch_end({'fusion': 2.0})
    # fusion keeps r = 1/2 against stage I, csc gets r = 1
    assert p.weights(L(1.0, 4.0), ctx(1.0, 1.0))['csc'] == pytest.approx(E25)


def test_gdwa_norm_every_and_epoch_mean():
    g = GDWA(norm_every=2, norm_source='epoch_mean')
    assert g.wants_grad_norms(1)  # nothing measured yet
    assert g.weights(L(1, 1), ctx(3.0, 1.0, step=0))['csc'] == pytest.approx(1 / 3)
    assert g.wants_grad_norms(2) and not g.wants_grad_norms(3)
    # mean of (3,1) and (1,1) = (2,1): g~ = (2/3, 1/3), omega = 1/2
    assert g.weights(L(1, 1), ctx(1.0, 1.0, step=2))['csc'] == pytest.approx(0.5)
    # step without a measurement reuses the epoch mean
    assert g.weights(L(1, 1), WeightingContext(step=3))['csc'] == pytest.approx(0.5)
    latest = GDWA()
    latest.weights(L(1, 1), ctx(3.0, 1.0))
    assert latest.weights(L(1, 1), ctx(1.0, 1.0))['csc'] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        GDWA().weights(L(1, 1), WeightingContext())


def test_gdwa_update_per_epoch():
    g = GDWA(update='epoch')
    g.epoch_end({'fusion': 2.0})
    assert g.weights(L(1, 1), ctx(3.0, 1.0))['csc'] == pytest.approx(1 / 3)
    assert g.weights(L(1, 1), ctx(1.0, 1.0))['csc'] == pytest.approx(1 / 3)  # frozen
    g.epoch_end({'fusion': 1.0, 'csc': 4.0})
    # epoch mean norms (2, 1), rates warm-up ones -> omega = (1/3)/(2/3)
    assert g.weights(L(1, 1), ctx(5.0, 1.0))['csc'] == pytest.approx(0.5)


def test_gdwa_state_roundtrip():
    g = GDWA(norm_source='epoch_mean')
    g.epoch_end({'fusion': 2.0})
    g.weights(L(1.0, 4.0), ctx(3.0, 1.0))
    g.epoch_end({'fusion': 1.0, 'csc': 4.0})
    g.weights(L(0.5, 4.0), ctx(1.0, 1.0))
    h = GDWA(norm_source='epoch_mean')
    h.load_state_dict(g.state_dict())
    a = g.weights(L(0.7, 3.0), ctx(2.0, 1.0))
    b = h.weights(L(0.7, 3.0), ctx(2.0, 1.0))
    assert a == pytest.approx(b)
