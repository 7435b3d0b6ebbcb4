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
Pair visible and thermal frames by header stamp (ROS-free).

ROS 2 ``message_filters`` is not always installable, and its
ApproximateTimeSynchronizer pairs greedily: a thermal frame may be matched
with an earlier RGB frame even when the next RGB frame is closer. This
module keeps the parameters users know from it (``queue_size``, ``slop``)
with stricter, documented semantics:

* Two frames are paired when they are each other's **nearest neighbour in
  time** on the other stream and their stamps differ by at most ``slop``
  seconds. Each frame is used at most once.
* A pair is emitted as soon as arrival order proves that no closer frame
  can still come, assuming each stream arrives in stamp order (true for a
  camera driver and for bag replay). That costs up to one frame period of
  the slower stream in latency: when the thermal frame is older than its
  RGB partner, only the next thermal frame proves it the nearest (30 Hz RGB
  with 9 Hz thermal: 49-76 ms mean, 108 ms at most).
* Every frame that will never be paired is dropped at once and counted by
  reason: ``no_partner`` (nothing within slop, or its nearest frame paired
  with a closer one), ``overflow`` (more than ``queue_size`` frames waiting
  on one stream), ``out_of_order`` (older than a frame already decided on
  its stream), ``duplicate`` (same stamp twice on one stream).
* Stamps that jump **back** by more than ``time_jump_threshold`` seconds (a bag
  played again, a restarted driver, a camera clock reset) are not late
  frames but a new time line: the pairer forgets everything it waited for
  (those frames are dropped as ``time_reset``), counts one reset, and pairs
  the new frames at once. Without this, every frame after a loop would be
  ``out_of_order`` until the stamps passed the old maximum. The other
  stream usually jumps a moment later; that is the same reset, not a second
  one, and its frames still on the old time line meanwhile are dropped as
  ``time_reset`` too.

With RGB at 30 Hz and thermal at 9 Hz this yields one pair per thermal
frame, each with the RGB frame closest to it.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from ros2_ssvif.params import Configurable


T = TypeVar('T')

STREAMS = ('visible', 'thermal')


@dataclass(order=True)
class _Item(Generic[T]):
    stamp: float
    payload: Any = field(compare=False)


class ApproximatePairer(Configurable):
    """
    Nearest-neighbour stamp pairing of two streams; see module docstring.

    ``on_pair(visible_payload, thermal_payload)`` is called for every pair;
    ``on_drop(stream, payload, reason)`` for every frame that will never be
    paired. Not thread-safe: call ``add`` from one thread (rclpy callbacks in
    a single-threaded executor are). Its parameters are the config's
    ``pairing`` fields, by name (:meth:`from_config`, ``configure``).
    """

    config_part = 'pairing'

    def __init__(self, queue_size: int = 10, slop: float = 0.05,
                 on_pair: Callable[[Any, Any], None] | None = None,
                 on_drop: Callable[[str, Any, str], None] | None = None,
                 time_jump_threshold: float = 0.5,
                 on_reset: Callable[[str, float], None] | None = None):
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        if not slop >= 0.0:
            raise ValueError(f'slop must be >= 0 seconds, got {slop}')
        if not time_jump_threshold > 0.0:
            raise ValueError(
                f'time_jump_threshold must be > 0 seconds, got {time_jump_threshold}')
        self.queue_size = int(queue_size)
        self.slop = float(slop)
        self.time_jump_threshold = float(time_jump_threshold)
        self.on_pair = on_pair or (lambda v, t: None)
        self.on_drop = on_drop or (lambda s, p, r: None)
        self.on_reset = on_reset or (lambda s, jump: None)
        self._queues: dict[str, list[_Item]] = {s: [] for s in STREAMS}
        self._decided: dict[str, float] = {s: float('-inf') for s in STREAMS}
        self._latest: dict[str, float | None] = dict.fromkeys(STREAMS)
        self._expect_jump: dict[str, bool] = dict.fromkeys(STREAMS, False)
        self.dropped: Counter = Counter()
        self.received: Counter = Counter()
        self.pairs = 0
        self.resets = 0

    @classmethod
    def from_config(cls, cfg, on_pair: Callable[[Any, Any], None] | None = None,
                    on_drop: Callable[[str, Any, str], None] | None = None,
                    on_reset: Callable[[str, float], None] | None = None) -> 'ApproximatePairer':
        """Return a pairer with the config's ``pairing`` fields (the node, ``process_bag``)."""
        return cls(on_pair=on_pair, on_drop=on_drop, on_reset=on_reset).configure(cfg)

    def add(self, stream: str, stamp: float, payload: Any) -> None:
        if stream not in self._queues:
            raise ValueError(f'stream must be one of {STREAMS}, got {stream!r}')
        self.received[stream] += 1
        if not self._follow_time(stream, stamp, payload):
            return
        q = self._queues[stream]
        if stamp <= self._decided[stream]:
            self._drop(stream, payload, 'out_of_order')
            return
        if q and stamp <= q[-1].stamp:
            if any(it.stamp == stamp for it in q):
                self._drop(stream, payload, 'duplicate')
                return
            bisect.insort(q, _Item(stamp, payload))  # late but not yet decided: keep order
        else:
            q.append(_Item(stamp, payload))
        while len(q) > self.queue_size:
            old = q.pop(0)
            self._decided[stream] = max(self._decided[stream], old.stamp)
            self._drop(stream, old.payload, 'overflow')
        self._match()

    def flush(self) -> None:
        """End of input: pair what can still be paired, drop the rest."""
        self._match(final=True)
        for s in STREAMS:
            for it in self._queues[s]:
                self._drop(s, it.payload, 'no_partner')
            self._queues[s].clear()

    def pending(self) -> dict[str, int]:
        return {s: len(q) for s, q in self._queues.items()}

    # ------------------------------------------------------------------
    def _follow_time(self, stream: str, stamp: float, payload: Any) -> bool:
        """Detect a jump back in time; False when the frame was dropped here."""
        other = STREAMS[1 - STREAMS.index(stream)]
        latest = self._latest[stream]
        if latest is not None and stamp < latest - self.time_jump_threshold:
            if self._expect_jump[stream]:  # the other stream reset first: same event
                self._expect_jump[stream] = False
                self._forget(stream)
            else:
                self._reset(stream, stamp, stamp - latest)
        elif self._expect_jump[stream]:
            new_time = self._latest[other]
            if new_time is not None and stamp > new_time + self.time_jump_threshold:
                self._drop(stream, payload, 'time_reset')  # still on the old time line
                return False
            self._expect_jump[stream] = False  # this stream agrees with the new time line
        self._latest[stream] = (
            stamp if self._latest[stream] is None else max(self._latest[stream], stamp)
        )
        return True

    def _forget(self, stream: str) -> None:
        for it in self._queues[stream]:
            self._drop(stream, it.payload, 'time_reset')
        self._queues[stream].clear()
        self._decided[stream] = float('-inf')
        self._latest[stream] = None

    def _reset(self, stream: str, stamp: float, jump: float) -> None:
        other = STREAMS[1 - STREAMS.index(stream)]
        self.resets += 1
        self._forget(stream)
        other_latest = self._latest[other]
        self._forget(other)
        # the other stream keeps its old latest stamp so that its own jump is recognised
        self._latest[other] = other_latest
        self._expect_jump[other] = (
            other_latest is not None and other_latest > stamp + self.time_jump_threshold
        )
        self._expect_jump[stream] = False
        self.on_reset(stream, jump)

    def _drop(self, stream: str, payload: Any, reason: str) -> None:
        self.dropped[(stream, reason)] += 1
        self.on_drop(stream, payload, reason)

    def _pop_decided(self, stream: str) -> _Item:
        it = self._queues[stream].pop(0)
        self._decided[stream] = max(self._decided[stream], it.stamp)
        return it

    def _match(self, final: bool = False) -> None:
        qv, qt = self._queues['visible'], self._queues['thermal']
        while qv and qt:
            # o: the oldest waiting frame overall; its nearest on the other
            # stream is the other queue's head (nothing older can still come).
            if qv[0].stamp <= qt[0].stamp:
                xs, ys = 'visible', 'thermal'
            else:
                xs, ys = 'thermal', 'visible'
            xq, yq = self._queues[xs], self._queues[ys]
            o, y = xq[0], yq[0]
            if y.stamp - o.stamp > self.slop:
                self._drop(xs, self._pop_decided(xs).payload, 'no_partner')
                continue
            # y's nearest on o's stream: known once o's stream has reached y.
            if xq[-1].stamp < y.stamp and not final:
                return
            nearest = min(xq, key=lambda it: (abs(it.stamp - y.stamp), it.stamp))
            if nearest is o:
                a, b = self._pop_decided(xs), self._pop_decided(ys)
                vis, th = (a, b) if xs == 'visible' else (b, a)
                self.pairs += 1
                self.on_pair(vis.payload, th.payload)
            else:
                self._drop(xs, self._pop_decided(xs).payload, 'no_partner')
