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

import numpy as np
import pytest
from ros2_ssvif.pairing import ApproximatePairer


def run(events, queue_size=10, slop=0.05):
    pairs, drops = [], []
    p = ApproximatePairer(
        queue_size,
        slop,
        lambda v, t: pairs.append((v, t)),
        lambda s, x, r: drops.append((s, x, r)),
    )
    for stamp, stream in events:
        p.add(stream, stamp, stamp)
    p.flush()
    return p, pairs, drops


def test_30hz_rgb_with_9hz_thermal_pairs_every_thermal_with_its_nearest_rgb():
    rng = np.random.default_rng(0)
    rgb = [i / 30 + rng.normal(0, 0.002) for i in range(90)]
    th = [0.004 + i / 9 + rng.normal(0, 0.002) for i in range(26)]
    events = sorted([(t, 'visible') for t in rgb] + [(t, 'thermal') for t in th])
    p, pairs, drops = run(events)
    assert len(pairs) == len(th)
    for v, t in pairs:
        assert v == min(rgb, key=lambda r: abs(r - t))  # the nearest, not merely one within slop
    # every frame is accounted for: paired or dropped with a reason
    assert 2 * len(pairs) + len(drops) == len(rgb) + len(th)
    assert {r for _, _, r in drops} == {'no_partner'}


def test_greedy_match_is_avoided_when_a_closer_frame_follows():
    # thermal at 0.100; rgb 0.070 arrives first, rgb 0.099 second: pair with 0.099
    p, pairs, _ = run(
        [(0.070, 'visible'), (0.100, 'thermal'), (0.099 + 0.0, 'visible'), (0.2, 'visible')]
    )
    assert pairs == [(0.099, 0.100)]


def test_nothing_within_slop_is_dropped_as_no_partner():
    p, pairs, drops = run([(0.0, 'visible'), (0.2, 'thermal'), (0.4, 'visible')], slop=0.05)
    assert pairs == []
    assert sorted(r for _, _, r in drops) == ['no_partner'] * 3


def test_out_of_order_duplicate_and_overflow_are_counted():
    pairs, drops = [], []
    p = ApproximatePairer(
        2, 0.01, lambda v, t: pairs.append((v, t)), lambda s, x, r: drops.append((s, x, r))
    )
    for s in (1.0, 1.1, 1.2):  # thermal stream silent: queue of 2 overflows once
        p.add('visible', s, s)
    assert ('visible', 1.0, 'overflow') in drops
    p.add('visible', 1.2, 'dup')
    assert ('visible', 'dup', 'duplicate') in drops
    p.add('visible', 0.95, 'late')  # older than a frame already decided (1.0)
    assert ('visible', 'late', 'out_of_order') in drops
    p.add('thermal', 1.2, 1.2)
    p.add('visible', 1.3, 1.3)
    assert pairs == [(1.2, 1.2)]
    assert p.dropped[('visible', 'overflow')] == 1


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match='queue_size'):
        ApproximatePairer(0, 0.1)
    with pytest.raises(ValueError, match='slop'):
        ApproximatePairer(5, -1)
    with pytest.raises(ValueError, match='stream'):
        ApproximatePairer().add('depth', 0.0, None)


def _stream(t0, n, rgb_hz=30.0, th_hz=10.0):
    rgb = [(t0 + i / rgb_hz, 'visible') for i in range(int(n * rgb_hz / th_hz))]
    th = [(t0 + 0.004 + i / th_hz, 'thermal') for i in range(n)]
    return sorted(rgb + th)


def test_stamps_jumping_back_reset_the_pairer_and_pairing_resumes():
    """
    A bag played twice: the second pass pairs like the first.

    Defect: all dropped as out_of_order.
    """
    loop = _stream(100.0, 10)
    pairs, drops, resets = [], [], []
    p = ApproximatePairer(
        10,
        0.02,
        lambda v, t: pairs.append((v, t)),
        lambda s, x, r: drops.append((s, x, r)),
        on_reset=lambda stream, jump: resets.append((stream, round(jump, 3))),
    )
    for stamp, stream in loop + loop:
        p.add(stream, stamp, stamp)
    p.flush()
    assert len(pairs) == 20  # 10 thermal frames per pass, each paired both times
    assert [r for _, _, r in drops].count('out_of_order') == 0
    assert p.resets == 1 and len(resets) == 1  # one loop, one reset, whichever stream jumped first
    assert resets[0][1] == pytest.approx(-(loop[-1][0] - loop[0][0]), abs=0.05)


def test_a_small_step_back_is_still_out_of_order_not_a_reset():
    pairs, drops = [], []
    p = ApproximatePairer(
        10,
        0.02,
        lambda v, t: pairs.append((v, t)),
        lambda s, x, r: drops.append((s, x, r)),
        time_jump_threshold=1.0,
    )
    for s in (5.0, 5.1, 5.2):
        p.add('visible', s, s)
    p.add('thermal', 5.1, 5.1)
    p.add('visible', 5.3, 5.3)
    p.add('visible', 4.5, 'late')  # 0.8 s back: a late frame, below the threshold
    assert p.resets == 0 and ('visible', 'late', 'out_of_order') in drops


def test_only_one_camera_clock_resets_and_the_other_follows_later():
    """
    Visible jumps back first, then thermal: pairing resumes without a second reset.

    Thermal frames still carrying old stamps are dropped as time_reset, then thermal
    jumps too and pairing resumes without a second reset.
    """
    pairs, drops = [], []
    p = ApproximatePairer(
        10,
        0.02,
        lambda v, t: pairs.append((v, t)),
        lambda s, x, r: drops.append((s, x, r)),
        time_jump_threshold=1.0,
    )
    for stamp, stream in _stream(50.0, 5):
        p.add(stream, stamp, stamp)
    n_before = len(pairs)
    p.add('visible', 1.0, 1.0)            # visible clock reset
    p.add('thermal', 50.6, 50.6)          # thermal still on the old clock
    assert ('thermal', 50.6, 'time_reset') in drops
    for stamp, stream in _stream(1.0 + 1 / 30, 5):
        p.add(stream, stamp, stamp)
    p.flush()
    assert p.resets == 1
    assert len(pairs) - n_before >= 4
