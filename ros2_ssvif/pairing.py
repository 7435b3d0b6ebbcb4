"""Pair visible and thermal frames by header stamp (ROS-free).

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
  camera driver and for bag replay). That costs at most one frame period of
  the faster stream in latency.
* Every frame that will never be paired is dropped at once and counted by
  reason: ``no_partner`` (nothing within slop, or its nearest frame paired
  with a closer one), ``overflow`` (more than ``queue_size`` frames waiting
  on one stream), ``out_of_order`` (older than a frame already decided on
  its stream), ``duplicate`` (same stamp twice on one stream).

With RGB at 30 Hz and thermal at 9 Hz this yields one pair per thermal
frame, each with the RGB frame closest to it.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")

STREAMS = ("visible", "thermal")


@dataclass(order=True)
class _Item(Generic[T]):
    stamp: float
    payload: Any = field(compare=False)


class ApproximatePairer:
    """Nearest-neighbour stamp pairing of two streams; see module docstring.

    ``on_pair(visible_payload, thermal_payload)`` is called for every pair;
    ``on_drop(stream, payload, reason)`` for every frame that will never be
    paired. Not thread-safe: call ``add`` from one thread (rclpy callbacks in
    a single-threaded executor are).
    """

    def __init__(self, queue_size: int = 10, slop: float = 0.05,
                 on_pair: Callable[[Any, Any], None] | None = None,
                 on_drop: Callable[[str, Any, str], None] | None = None):
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if not slop >= 0.0:
            raise ValueError(f"slop must be >= 0 seconds, got {slop}")
        self.queue_size = int(queue_size)
        self.slop = float(slop)
        self.on_pair = on_pair or (lambda v, t: None)
        self.on_drop = on_drop or (lambda s, p, r: None)
        self._queues: dict[str, list[_Item]] = {s: [] for s in STREAMS}
        self._decided: dict[str, float] = {s: float("-inf") for s in STREAMS}
        self.dropped: Counter = Counter()
        self.received: Counter = Counter()
        self.pairs = 0

    def add(self, stream: str, stamp: float, payload: Any) -> None:
        if stream not in self._queues:
            raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
        self.received[stream] += 1
        q = self._queues[stream]
        if stamp <= self._decided[stream]:
            self._drop(stream, payload, "out_of_order")
            return
        if q and stamp <= q[-1].stamp:
            if any(it.stamp == stamp for it in q):
                self._drop(stream, payload, "duplicate")
                return
            bisect.insort(q, _Item(stamp, payload))  # late but not yet decided: keep order
        else:
            q.append(_Item(stamp, payload))
        while len(q) > self.queue_size:
            old = q.pop(0)
            self._decided[stream] = max(self._decided[stream], old.stamp)
            self._drop(stream, old.payload, "overflow")
        self._match()

    def flush(self) -> None:
        """End of input: pair what can still be paired, drop the rest."""
        self._match(final=True)
        for s in STREAMS:
            for it in self._queues[s]:
                self._drop(s, it.payload, "no_partner")
            self._queues[s].clear()

    def pending(self) -> dict[str, int]:
        return {s: len(q) for s, q in self._queues.items()}

    # ------------------------------------------------------------------
    def _drop(self, stream: str, payload: Any, reason: str) -> None:
        self.dropped[(stream, reason)] += 1
        self.on_drop(stream, payload, reason)

    def _pop_decided(self, stream: str) -> _Item:
        it = self._queues[stream].pop(0)
        self._decided[stream] = max(self._decided[stream], it.stamp)
        return it

    def _match(self, final: bool = False) -> None:
        qv, qt = self._queues["visible"], self._queues["thermal"]
        while qv and qt:
            # o: the oldest waiting frame overall; its nearest on the other
            # stream is the other queue's head (nothing older can still come).
            if qv[0].stamp <= qt[0].stamp:
                xs, ys = "visible", "thermal"
            else:
                xs, ys = "thermal", "visible"
            xq, yq = self._queues[xs], self._queues[ys]
            o, y = xq[0], yq[0]
            if y.stamp - o.stamp > self.slop:
                self._drop(xs, self._pop_decided(xs).payload, "no_partner")
                continue
            # y's nearest on o's stream: known once o's stream has reached y.
            if xq[-1].stamp < y.stamp and not final:
                return
            nearest = min(xq, key=lambda it: (abs(it.stamp - y.stamp), it.stamp))
            if nearest is o:
                a, b = self._pop_decided(xs), self._pop_decided(ys)
                vis, th = (a, b) if xs == "visible" else (b, a)
                self.pairs += 1
                self.on_pair(vis.payload, th.payload)
            else:
                self._drop(xs, self._pop_decided(xs).payload, "no_partner")
