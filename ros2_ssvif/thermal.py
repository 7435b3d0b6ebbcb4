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
Thermal counts -> [0, 1] intensities the fusion network expects.

One class, used by training, ``ssvif_fuse``, the node, ``process_bag`` and
the metrics, so every consumer sees the same thermal image. Modes:

* ``scale``: divide by the type's full scale (uint8 / 255, uint16 / 65535,
  floats taken as already in [0, 1]). 8-bit thermal datasets (RoadScene,
  MSRS, TNO, VIFB) are AGC'd images already: the paper trains on them as
  given, and the metrics score against those very files, so any further
  stretch would train towards a brighter image than the one judged.
* ``fixed``: a radiometric window [fixed_min, fixed_max] in counts, for
  setups where absolute counts matter (the same count is always the same
  grey, frame after frame).
* ``running``: a window that follows the scene slowly. Each frame's robust
  range (low/high percentiles) is measured; a window edge does not move
  while the frame's edge is within ``hysteresis`` x the window width of it
  (noise, a pedestrian crossing), and otherwise moves towards it by at most
  ``rate`` x the window width per frame (a slew limit). A hot car entering
  the view therefore re-grades the picture over seconds, a few grey levels
  per frame, instead of all at once (the flicker a per-frame stretch
  makes), and a sustained change (a tunnel, the camera warming up, a
  flat-field correction) is still followed: with the default 3 % a window
  that must double takes ~25 frames, about 3 s at 9 Hz. State lives in the
  instance: ``reset()`` on a time jump (bag loop, new drive), after which
  the first frame sets the window. A frame whose range does not overlap the
  window at all (a gain-mode switch, a camera reconnect) sets the window at
  once (counted in ``jumps``): sliding there would show a black or white
  picture for many seconds.
* ``percentile``: the old per-frame stretch, kept as an option (what many
  thermal cameras' own AGC does for display).
* ``auto`` (default): 8-bit input -> ``scale``; deeper input (raw 14/16-bit
  counts, floats) -> ``running`` on a video stream, ``percentile`` on
  stills (``video=False``: training crops and image folders, where frames
  are unrelated and there is no "previous" window). ``running`` on stills
  is ``percentile`` for the same reason.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from ros2_ssvif.params import settings


MODES = ('auto', 'scale', 'fixed', 'running', 'percentile')


@dataclass
class ThermalNormalizer:
    mode: str = 'auto'
    low_percentile: float = 1.0
    high_percentile: float = 99.0
    fixed_min: float = 0.0
    fixed_max: float = 65535.0
    rate: float = 0.03
    hysteresis: float = 0.1
    video: bool = True
    _window: tuple[float, float] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    jumps: int = field(default=0, init=False, repr=False, compare=False)  # snaps to a new scene

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f'thermal normalization mode must be one of {MODES}, got {self.mode!r}'
            )
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise ValueError(
                f'need 0 <= low < high <= 100 percentiles, got {self.low_percentile}, '
                f'{self.high_percentile}'
            )
        if self.mode == 'fixed' and not self.fixed_max > self.fixed_min:
            raise ValueError(
                f'fixed range needs max > min, got {self.fixed_min}..{self.fixed_max}'
            )
        if not 0.0 < self.rate <= 1.0:
            raise ValueError(
                f'running-window rate (fraction of the width per frame) must be in (0, 1], '
                f'got {self.rate}'
            )
        if not 0.0 <= self.hysteresis < 1.0:
            raise ValueError(f'running-window hysteresis must be in [0, 1), got {self.hysteresis}')

    @classmethod
    def from_config(cls, cfg, video: bool = True) -> 'ThermalNormalizer':
        """Build from the ``thermal_*`` fields of a :class:`ros2_ssvif.config.FusionConfig`."""
        return cls(**settings(cfg, 'thermal'), video=video)

    def effective_mode(self, dtype) -> str:
        """Return the mode applied to an image of ``dtype`` (``auto`` resolved)."""
        if self.mode == 'running' and not self.video:
            return 'percentile'
        if self.mode != 'auto':
            return self.mode
        if np.dtype(dtype) == np.uint8:
            return 'scale'
        return 'running' if self.video else 'percentile'

    def reset(self) -> None:
        """Forget the running window (stamps jumped back, a new drive, a camera restart)."""
        self._window = None

    @property
    def window(self) -> tuple[float, float] | None:
        """
        Return the running window, (low, high) in input units.

        None before the first frame.
        """
        return self._window

    def _percentiles(self, t: np.ndarray) -> tuple[float, float] | None:
        finite = t[np.isfinite(t)]
        if finite.size == 0:
            return None
        # a subsample is enough for percentiles and 10x cheaper per frame
        sample = finite.ravel()[:: max(1, finite.size // 20000)]
        lo, hi = np.percentile(sample, [self.low_percentile, self.high_percentile])
        return float(lo), float(hi)

    def _track(self, frame: tuple[float, float]) -> tuple[float, float]:
        if self._window is None or not self._window[1] > self._window[0]:
            self._window = frame
            return frame
        lo, hi = self._window
        if frame[1] < lo or frame[0] > hi:
            # The scene left the window entirely (a gain-mode switch, a camera reconnect):
            # sliding 3 % a frame would show black or white for many seconds, so jump.
            self.jumps += 1
            self._window = frame
            return frame
        width = hi - lo
        band, step = self.hysteresis * width, self.rate * width
        gap_lo, gap_hi = frame[0] - lo, frame[1] - hi
        if abs(gap_lo) > band:
            lo += float(np.clip(gap_lo, -step, step))
        if abs(gap_hi) > band:
            hi += float(np.clip(gap_hi, -step, step))
        if not hi > lo:  # edges crossed (a flat scene): keep a minimal window around their mean
            mid = 0.5 * (lo + hi)
            lo, hi = mid - 0.5, mid + 0.5
        self._window = (lo, hi)
        return self._window

    def __call__(self, thermal: np.ndarray) -> np.ndarray:
        t = np.asarray(thermal)
        if t.ndim == 3:  # a colour-mapped or 3-channel thermal: use its mean
            src_dtype = t.dtype
            t = t.mean(axis=2)
        else:
            src_dtype = t.dtype
        mode = self.effective_mode(src_dtype)
        t = t.astype(np.float32, copy=False)
        flat = 0.0
        if mode == 'scale':
            if src_dtype == np.uint8:
                lo, hi = 0.0, 255.0
            elif src_dtype == np.uint16:
                lo, hi = 0.0, 65535.0
            elif np.issubdtype(src_dtype, np.integer):
                lo, hi = 0.0, float(np.iinfo(src_dtype).max)
            else:
                lo, hi = 0.0, 1.0
        elif mode == 'fixed':
            lo, hi = float(self.fixed_min), float(self.fixed_max)
        else:
            frame = self._percentiles(t)
            if frame is None:
                return np.zeros(t.shape, np.float32)
            lo, hi = self._track(frame) if mode == 'running' else frame
            flat = 0.5
        if not hi > lo:  # flat frame (lens cap, shutter): mid-grey, not NaN
            return np.full(t.shape, flat, np.float32)
        out = (t - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        out = np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(out, 0.0, 1.0, out=out)

    def for_stills(self) -> 'ThermalNormalizer':
        """
        Return a copy for unrelated images (training, folders).

        No running state across files.
        """
        return dataclasses.replace(self, video=False)
