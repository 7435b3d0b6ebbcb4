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
Honest health for /diagnostics: per-input rate and stamp age, drop ratio (ROS-free).

The node used to say OK "running" with no camera input at all, or with
every frame dropped after a bag loop. These rules decide the levels:

* each input: STALE until its first frame (for ``stream_timeout`` after
  start), WARN when it never came or has been silent longer than
  ``stream_timeout`` (arrival time on the steady clock, so a paused or
  looping /clock does not fool it), else OK with its rate;
* fusion: ERROR when the pipeline is not ready (the reason), STALE while a
  model loads or before the first frames, WARN when an input is silent or
  when more than ``max_drop_ratio`` of the slower camera's frames in the
  last ``window`` seconds gave no output (the busiest drop reasons named:
  frames or pairs), else OK.

The slower camera sets the expected output rate: with RGB at 30 Hz and
thermal at 9 Hz, two RGB frames in three are dropped by design (no
partner), which is not a fault; a thermal frame with no output is.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
import threading

from ros2_ssvif.params import Configurable


OK, WARN, ERROR, STALE = 0, 1, 2, 3
LEVEL_NAMES = ('OK', 'WARN', 'ERROR', 'STALE')
MIN_FRAMES_FOR_RATIO = 3


@dataclass
class StatusReport:
    name: str
    level: int
    message: str
    values: dict = field(default_factory=dict)


class _Window:
    """Timestamped events, pruned to the last ``seconds``."""

    def __init__(self) -> None:
        self.events: deque = deque()

    def add(self, t: float, key=None) -> None:
        self.events.append((t, key))

    def prune(self, now: float, seconds: float) -> None:
        while self.events and self.events[0][0] < now - seconds:
            self.events.popleft()

    def count(self) -> int:
        return len(self.events)

    def rate(self) -> float:
        """Events per second between the first and the last one in the window."""
        if len(self.events) < 2 or self.events[-1][0] <= self.events[0][0]:
            return 0.0
        return (len(self.events) - 1) / (self.events[-1][0] - self.events[0][0])

    def by_key(self) -> Counter:
        return Counter(k for _, k in self.events)


class HealthMonitor(Configurable):
    """The levels above; its parameters are the config's ``health`` fields, by name."""

    config_part = 'health'

    def __init__(
        self,
        topics: dict[str, str],
        stream_timeout: float = 2.0,
        max_drop_ratio: float = 0.5,
        window: float = 5.0,
        start: float = 0.0,
        prefix: str = 'fusion_node',
    ):
        self.topics = dict(topics)
        self.stream_timeout = stream_timeout
        self.max_drop_ratio = max_drop_ratio
        self.window = window
        self.start = start
        self.prefix = prefix
        self._lock = threading.Lock()
        self._arrivals = {s: _Window() for s in self.topics}
        self._published = _Window()
        self._drops = _Window()
        self._last_arrival: dict[str, float | None] = dict.fromkeys(self.topics)
        self._last_stamp: dict[str, float | None] = dict.fromkeys(self.topics)
        self._frames_in: Counter = Counter()

    @classmethod
    def from_config(cls, cfg, topics: dict[str, str], start: float = 0.0,
                    prefix: str = 'fusion_node') -> 'HealthMonitor':
        return cls(topics, start=start, prefix=prefix).configure(cfg)

    def restart(self, now: float) -> None:
        """Forget everything (lifecycle activate): the inputs start waiting again."""
        self.__init__(
            self.topics, self.stream_timeout, self.max_drop_ratio, self.window, now, self.prefix
        )

    # -- events (any thread) ------------------------------------------------
    def frame_in(self, stream: str, now: float, stamp: float) -> None:
        with self._lock:
            self._arrivals[stream].add(now)
            self._last_arrival[stream] = now
            self._last_stamp[stream] = stamp
            self._frames_in[stream] += 1

    def published(self, now: float) -> None:
        with self._lock:
            self._published.add(now)

    def dropped(self, kind: str, reason: str, now: float) -> None:
        """``kind`` is "frames" or "pairs"; ``reason`` the drop counter's name."""
        with self._lock:
            self._drops.add(now, (reason, kind))

    # -- report ---------------------------------------------------------------
    def report(
        self, now: float, clock_now: float, state: str, message: str = ''
    ) -> list[StatusReport]:
        """Status per input, then the fusion's; ``state``: ready, loading, error or inactive."""
        with self._lock:
            for w in (*self._arrivals.values(), self._published, self._drops):
                w.prune(now, self.window)
            inputs = [self._input_status(s, now, clock_now) for s in self.topics]
            fusion = self._fusion_status(now, state, message, inputs)
        return inputs + [fusion]

    def _input_status(self, stream: str, now: float, clock_now: float) -> StatusReport:
        topic = self.topics[stream]
        rate = self._arrivals[stream].rate()
        values = {'topic': topic, 'frames_in': self._frames_in[stream], 'rate_hz': round(rate, 2)}
        last, stamp = self._last_arrival[stream], self._last_stamp[stream]
        name = f'{self.prefix}: {stream} input'
        if last is None:
            waited = now - self.start
            if waited <= self.stream_timeout:
                return StatusReport(name, STALE, f'waiting for the first frame on {topic}', values)
            return StatusReport(
                name, WARN, f'no frames on {topic} for {waited:.1f} s since start', values
            )
        values['last_stamp'] = round(stamp, 6)
        values['stamp_age_s'] = round(clock_now - stamp, 3)
        values['since_last_frame_s'] = round(now - last, 3)
        if now - last > self.stream_timeout:
            return StatusReport(name, WARN, f'{topic} silent for {now - last:.1f} s', values)
        return StatusReport(name, OK, f'{rate:.1f} Hz', values)

    def _fusion_status(
        self, now: float, state: str, message: str, inputs: list[StatusReport]
    ) -> StatusReport:
        name = f'{self.prefix}: fusion'
        span = min(self.window, max(now - self.start, 1e-9))
        out = self._published.count()
        values = {'output_rate_hz': round(out / span, 2), 'window_s': self.window}
        if state == 'error':
            return StatusReport(name, ERROR, f'not ready: {message}', values)
        if state in ('loading', 'inactive'):
            return StatusReport(name, STALE, message or state, values)
        silent = [r for r in inputs if r.level == WARN]
        if silent:
            return StatusReport(
                name, WARN, 'no output: ' + '; '.join(r.message for r in silent), values
            )
        if all(r.level == STALE for r in inputs):
            return StatusReport(name, STALE, 'waiting for the first frames', values)
        counts = {s: w.count() for s, w in self._arrivals.items()}
        slower = min(counts, key=lambda s: (counts[s], s != 'thermal'))
        if counts[slower] >= MIN_FRAMES_FOR_RATIO:
            ratio = min(1.0, max(0.0, 1.0 - out / counts[slower]))
            values['drop_ratio'] = round(ratio, 3)
            if ratio > self.max_drop_ratio:
                top = ', '.join(f'{reason}: {n} {kind}' for (reason, kind), n in
                                self._drops.by_key().most_common(3)) or 'none counted'
                return StatusReport(
                    name,
                    WARN,
                    f'{ratio:.0%} of {slower} frames gave no output in the last '
                    f'{span:.0f} s (drops: {top})',
                    values,
                )
        return StatusReport(name, OK, f'running, {out / span:.1f} Hz out', values)
