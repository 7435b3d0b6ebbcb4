"""Per-stage latency and drop counters for the node, the bag tool and the demo."""
from __future__ import annotations

import time
from collections import Counter, deque
from contextlib import contextmanager

import numpy as np

STAGES = ("decode", "register", "infer", "encode", "publish")


class PipelineStats:
    """Counts frames and keeps the last ``window`` latencies of each stage."""

    def __init__(self, window: int = 1000):
        self.latency: dict[str, deque] = {s: deque(maxlen=window) for s in STAGES + ("total",)}
        self.counts: Counter = Counter()
        self.drops: Counter = Counter()

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.latency.setdefault(name, deque(maxlen=1000)).append(time.perf_counter() - t0)

    def record(self, name: str, seconds: float) -> None:
        self.latency.setdefault(name, deque(maxlen=1000)).append(seconds)

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def latency_summary_ms(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, vals in self.latency.items():
            if vals:
                a = np.asarray(vals) * 1e3
                out[name] = {"mean": float(a.mean()), "p50": float(np.percentile(a, 50)),
                             "p95": float(np.percentile(a, 95)), "max": float(a.max()), "n": int(a.size)}
        return out

    def summary(self) -> dict:
        return {"counts": dict(self.counts), "drops": dict(self.drops), "latency_ms": self.latency_summary_ms()}
