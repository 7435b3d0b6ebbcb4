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
PipelineStats read by the diagnostics timer while the worker writes it.

CI caught ``RuntimeError: dictionary changed size during iteration`` when the
alignment stage first recorded its latency during a summary; these tests make
that race likely (new names on every write) and check that no count is lost.
"""
import threading

from ros2_ssvif.stats import PipelineStats


def test_summaries_while_another_thread_adds_new_names_never_fail_nor_lose_counts():
    stats = PipelineStats()
    n = 4000
    errors = []

    def writer():
        try:
            for i in range(n):
                stats.record(f'stage_{i}', 0.001)
                stats.count(f'counter_{i % 50}')
                stats.drop(f'reason_{i}')
                stats.frame_drop('thermal', f'why_{i}')
        except Exception as exc:  # noqa: BLE001 - the test reports it below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    summaries = 0
    while t.is_alive():
        try:
            stats.summary()
            summaries += 1
        except Exception as exc:  # noqa: BLE001 - the test reports it below
            errors.append(exc)
            break
    t.join()
    assert errors == []
    assert summaries > 0
    s = stats.summary()
    assert sum(s['counts'].values()) == n
    assert s['counts']['counter_7'] == n // 50
    assert len(s['latency_ms']) == n  # only stages that ran are summarised
    assert sum(s['dropped_pairs'].values()) == n
    assert sum(s['dropped_frames']['thermal'].values()) == n


def test_last_gives_the_latest_latency_or_none():
    stats = PipelineStats()
    assert stats.last('infer') is None
    assert stats.last('never') is None
    with stats.stage('infer'):
        pass
    stats.record('infer', 0.25)
    assert stats.last('infer') == 0.25
    assert stats.summary()['latency_ms']['infer']['n'] == 2
