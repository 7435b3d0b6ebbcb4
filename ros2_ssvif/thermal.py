"""Thermal counts -> [0, 1] intensities the fusion network expects.

Raw thermal frames (mono16, 14-bit counts) drift with the sensor's own
temperature, so the default is a per-frame robust stretch between two
percentiles, the automatic gain control thermal cameras apply for display;
networks trained on 8-bit thermal datasets saw images made that way. A
fixed linear range is available for radiometric setups where absolute
counts matter. Training uses this same class so both sides agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("percentile", "fixed")


@dataclass
class ThermalNormalizer:
    mode: str = "percentile"
    low_percentile: float = 1.0
    high_percentile: float = 99.0
    fixed_min: float = 0.0
    fixed_max: float = 65535.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"thermal normalization mode must be one of {MODES}, got {self.mode!r}")
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise ValueError(f"need 0 <= low < high <= 100 percentiles, got {self.low_percentile}, {self.high_percentile}")
        if self.mode == "fixed" and not self.fixed_max > self.fixed_min:
            raise ValueError(f"fixed range needs max > min, got {self.fixed_min}..{self.fixed_max}")

    def __call__(self, thermal: np.ndarray) -> np.ndarray:
        t = np.asarray(thermal)
        if t.ndim == 3:  # a colour-mapped or 3-channel thermal: use its mean
            t = t.mean(axis=2)
        t = t.astype(np.float32, copy=False)
        if self.mode == "fixed":
            lo, hi = float(self.fixed_min), float(self.fixed_max)
        else:
            finite = t[np.isfinite(t)]
            if finite.size == 0:
                return np.zeros(t.shape, np.float32)
            # a subsample is enough for percentiles and 10x cheaper per frame
            sample = finite.ravel()[:: max(1, finite.size // 20000)]
            lo, hi = np.percentile(sample, [self.low_percentile, self.high_percentile])
        if not hi > lo:  # flat frame (lens cap, shutter): mid-grey, not NaN
            return np.full(t.shape, 0.5 if self.mode == "percentile" else 0.0, np.float32)
        lo, hi = float(lo), float(hi)
        out = (t - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        out = np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(out, 0.0, 1.0, out=out)
