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

"""Health rules of the node (ros2_ssvif/health.py), on explicit clocks: hand-computed levels."""
import pytest
from ros2_ssvif.health import ERROR, HealthMonitor, OK, STALE, WARN


TOPICS = {'visible': '/cam/rgb/image_raw', 'thermal': '/cam/thermal/image_raw'}


def monitor(**kw):
    args = {'stream_timeout': 2.0, 'max_drop_ratio': 0.5, 'window': 5.0, 'start': 0.0}
    args.update(kw)
    return HealthMonitor(TOPICS, **args)


def feed(m, t0, t1, hz, streams=('visible', 'thermal'), publish=True):
    """
    Feed frames on ``streams`` at ``hz`` between t0 and t1.

    One output per thermal frame if ``publish``.
    """
    n = int(round((t1 - t0) * hz))
    for k in range(n):
        t = t0 + k / hz
        for s in streams:
            m.frame_in(s, t, stamp=1000.0 + t)
        if publish and 'thermal' in streams:
            m.published(t + 0.05)


def levels(reports):
    return {r.name.split(': ')[-1]: r.level for r in reports}


def test_stale_before_the_first_frame_then_ok_when_fusing():
    m = monitor()
    r = m.report(now=0.5, clock_now=1000.5, state='ready')
    assert levels(r) == {'visible input': STALE, 'thermal input': STALE, 'fusion': STALE}
    feed(m, 1.0, 4.0, 10.0)
    r = {x.name.split(': ')[-1]: x for x in m.report(now=4.0, clock_now=1004.05, state='ready')}
    assert r['fusion'].level == OK and r['visible input'].level == OK
    assert float(r['thermal input'].values['rate_hz']) == pytest.approx(10.0, rel=0.1)
    assert float(r['thermal input'].values['stamp_age_s']) == pytest.approx(0.15, abs=0.02)


def test_a_silent_stream_is_warn_and_named():
    """Defect: with no camera input at all /diagnostics said OK "running"."""
    m = monitor()
    feed(m, 0.0, 3.0, 10.0, streams=('visible',), publish=False)  # thermal never arrives
    r = {x.name.split(': ')[-1]: x for x in m.report(now=3.0, clock_now=0.0, state='ready')}
    assert (
        r['thermal input'].level == WARN
        and 'no frames on /cam/thermal/image_raw' in r['thermal input'].message
    )
    assert r['visible input'].level == OK
    assert r['fusion'].level == WARN and 'thermal' in r['fusion'].message
    # thermal came, then stopped: silent for 2.5 s > 2 s
    feed(m, 3.0, 4.0, 10.0)
    feed(m, 4.0, 6.5, 10.0, streams=('visible',), publish=False)
    r = {x.name.split(': ')[-1]: x for x in m.report(now=6.5, clock_now=0.0, state='ready')}
    assert r['thermal input'].level == WARN and 'silent for 2.6 s' in r['thermal input'].message


def test_more_than_half_of_the_frames_dropped_is_warn_with_the_reason():
    """Defect: with 100 % of pairs dropped (a loop, overload) /diagnostics said OK."""
    m = monitor()
    feed(m, 0.0, 4.0, 10.0, publish=False)
    for k in range(38):
        m.dropped('frames', 'thermal_out_of_order', 0.1 * k)
    r = {x.name.split(': ')[-1]: x for x in m.report(now=4.0, clock_now=0.0, state='ready')}
    assert r['fusion'].level == WARN
    assert '100% of thermal frames gave no output' in r['fusion'].message
    assert 'thermal_out_of_order' in r['fusion'].message
    # 40 % dropped is under the 50 % threshold: OK
    m2 = monitor()
    feed(m2, 0.0, 4.0, 10.0, publish=False)
    for k in range(24):
        m2.published(0.1 * k)
    assert levels(m2.report(now=4.0, clock_now=0.0, state='ready'))['fusion'] == OK


def test_not_ready_is_error_and_loading_is_stale_with_the_reason():
    m = monitor()
    r = m.report(now=1.0, clock_now=0.0, state='error', message='model file not found: /x.onnx')
    fusion = [x for x in r if x.name.endswith('fusion')][0]
    assert fusion.level == ERROR and 'not ready: model file not found: /x.onnx' == fusion.message
    r = m.report(now=1.0, clock_now=0.0, state='loading', message='building TensorRT engine')
    fusion = [x for x in r if x.name.endswith('fusion')][0]
    assert fusion.level == STALE and 'building TensorRT engine' in fusion.message


def test_old_events_leave_the_window():
    m = monitor(window=5.0)
    feed(m, 0.0, 3.0, 10.0, publish=False)  # a bad start: nothing published
    feed(m, 3.0, 20.0, 10.0)  # then 17 s of good output
    assert levels(m.report(now=20.0, clock_now=0.0, state='ready'))['fusion'] == OK
