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
Per-stage latency and drop counters for the node, the bag tool and the demo.

The node writes these from its inference worker and its callbacks while the
diagnostics timer reads them on the executor thread, so every write and every
summary goes through one lock (a dict that grows while another thread copies
it raises ``RuntimeError``: seen in CI, issue 17's drive test).
"""
from __future__ import annotations

from collections import Counter, deque
from contextlib import contextmanager
import threading
import time

import numpy as np


STAGES = ('decode', 'register', 'infer', 'encode', 'publish')


class PipelineStats:
    """Counts frames and keeps the last ``window`` latencies of each stage."""

    def __init__(self, window: int = 1000):
        self._lock = threading.Lock()
        self._window = window
        self.latency: dict[str, deque] = {s: deque(maxlen=window) for s in STAGES + ('total',)}
        self.counts: Counter = Counter()
        self.drops: Counter = (
            Counter()
        )  # flat: "<stream>_<reason>" for frames, "<reason>" for pairs
        self.frame_drops: Counter = Counter()  # (stream, reason): a camera frame never paired
        self.pair_drops: Counter = Counter()  # reason: a pair that did not become an output
        self.listener = (
            None  # called as listener("frames" | "pairs", reason) on every drop (health)
        )

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - t0)

    def record(self, name: str, seconds: float) -> None:
        with self._lock:
            self.latency.setdefault(name, deque(maxlen=self._window)).append(seconds)

    def last(self, name: str) -> float | None:
        """Return the latest latency of ``name`` in seconds, or None if it never ran."""
        with self._lock:
            vals = self.latency.get(name)
            return vals[-1] if vals else None

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (thread-safe; read ``counts`` freely)."""
        with self._lock:
            self.counts[name] += n

    def drop(self, reason: str, n: int = 1) -> None:
        """Count a pair that did not become an output (decode, size, busy, not ready, ...)."""
        with self._lock:
            self.drops[reason] += n
            self.pair_drops[reason] += n
        if self.listener is not None:
            self.listener('pairs', reason)

    def frame_drop(self, stream: str, reason: str, n: int = 1) -> None:
        """
        Count a camera frame that was never paired.

        No partner, out of order, time reset, ...
        """
        with self._lock:
            self.drops[f'{stream}_{reason}'] += n
            self.frame_drops[(stream, reason)] += n
        if self.listener is not None:
            self.listener('frames', f'{stream}_{reason}')

    def latency_summary_ms(self) -> dict[str, dict[str, float]]:
        with self._lock:
            snapshot = {name: list(vals) for name, vals in self.latency.items()}
        out = {}
        for name, vals in snapshot.items():
            if vals:
                a = np.asarray(vals) * 1e3
                out[name] = {
                    'mean': float(a.mean()),
                    'p50': float(np.percentile(a, 50)),
                    'p95': float(np.percentile(a, 95)),
                    'max': float(a.max()),
                    'n': int(a.size),
                }
        return out

    def summary(self) -> dict:
        with self._lock:
            counts, drops = dict(self.counts), dict(self.drops)
            frame_drops, pair_drops = dict(self.frame_drops), dict(self.pair_drops)
        frames: dict[str, dict[str, int]] = {}
        for (stream, reason), n in frame_drops.items():
            frames.setdefault(stream, {})[reason] = n
        return {'counts': counts, 'drops': drops, 'dropped_frames': frames,
                'dropped_pairs': pair_drops, 'latency_ms': self.latency_summary_ms()}
