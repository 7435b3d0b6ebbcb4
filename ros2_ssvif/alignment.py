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
Is the thermal image still where the registration puts it? A monitor (ROS-free).

A bump, a loose bracket or a lens refocus moves the thermal camera, and the
calibrated registration then ghosts every fused edge. Each checked pair is
compared here, at reduced resolution, as the pipeline already has it:
registered visible RGB uint8 and registered thermal in [0, 1].

**Measure** (chosen by ``benchmarks/bench_alignment.py`` on real RoadScene
and MSRS day/night pairs, see README "Registration health"): normalised
cross-correlation of *gradient orientations*. Each image becomes the
doubled-angle field ``(gx + i gy)^2 / (|g| + k)`` (k = mean |g|): doubling
the angle makes a thermal edge of opposite polarity (hot car on a bright
road, dark window in a warm wall) point the same way as its visible edge,
and the weight keeps strong edges from dominating while noise stays small.
The centre of the visible field is slid over the thermal field by
``cv2.matchTemplate`` (``TM_CCORR_NORMED``, two channels, FFT inside) over
+-``SEARCH_PX`` working pixels; the peak gives the shift (parabolic
sub-pixel), and its **confidence** is how distinct it is, 1 - second
peak / peak (a repeated or textureless scene has many similar peaks: low
confidence rather than a wrong number). Intensity or gradient-magnitude
phase correlation was measured too and is wrong far more often across
modalities.

**Aggregation**: the median of the confident checks among the last
``window`` ones (a few frames of a passing truck do not move it), reported
as ``shift_x_px``/``shift_y_px`` in registered output pixels: how far the
thermal content lies right/below its visible counterpart. OK, WARN when
the shift exceeds ``warn_px`` for ``warn_hold_s`` seconds of stamp time (and
back to OK after the same hold, so one frame cannot flap), STALE while too
few checks are confident (night, fog, a blank wall: too little texture).

**Autocorrect** (off by default): the registration's thermal remap is
translated by a correction that follows the median (half the remaining
error per check, not below 0.5 px, never more than ``autocorrect_max_px``),
so fused edges align again. Estimates are kept in absolute terms (what was
measured plus the correction applied to that frame), so the correction
never chases its own effect.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math
import threading

import cv2
import numpy as np
from ros2_ssvif.health import OK, STALE, StatusReport, WARN
from ros2_ssvif.params import settings as config_settings


WORK_WIDTH = 320  # px: the check runs at about half a 640x480 frame (cost, see RESULTS.md)
SEARCH_PX = 12  # working px each way: 24 px at 640 wide, beyond any correction we make
PEAK_EXCLUSION_PX = 2  # the second peak is looked for outside this neighbourhood
MIN_TEXTURE = 1e-3  # mean Sobel magnitude (intensities in [0, 1]) below which a frame is blank
AUTOCORRECT_GAIN = 0.5  # share of the remaining error corrected per check
AUTOCORRECT_DEADBAND_PX = 0.5  # smaller changes are not applied (no remap rebuild per frame)


@dataclass(frozen=True)
class ShiftEstimate:
    """One pair's measurement: thermal content lies (dx, dy) output px from its visible edge."""

    dx: float
    dy: float
    confidence: float
    texture: bool = True


class Workspace:
    """
    Reused float32 buffers, one set per image size.

    A fresh 300 KB array per intermediate is a fresh ``mmap`` and its page
    faults: allocating them anew made a check three times slower than its
    arithmetic. The monitor keeps one workspace; one thread uses it.
    """

    def __init__(self) -> None:
        self._buffers: dict = {}

    def get(self, name: str, shape: tuple[int, int], channels: int = 1) -> np.ndarray:
        key = (name, shape, channels)
        buf = self._buffers.get(key)
        if buf is None:
            buf = np.empty(shape + ((channels,) if channels > 1 else ()), np.float32)
            self._buffers[key] = buf
        return buf


def _orientation_field(img: np.ndarray, ws: Workspace, tag: str) -> tuple[np.ndarray, float]:
    """Doubled-angle gradient field ``(gx + i gy)^2 / (|g| + mean |g|)`` as two channels."""
    sh = img.shape
    blur = cv2.GaussianBlur(img, (5, 5), 1.0, dst=ws.get('blur', sh))
    gx = cv2.Sobel(blur, cv2.CV_32F, 1, 0, dst=ws.get('gx', sh), ksize=3)
    gy = cv2.Sobel(blur, cv2.CV_32F, 0, 1, dst=ws.get('gy', sh), ksize=3)
    mag = cv2.magnitude(gx, gy, magnitude=ws.get('mag', sh))
    mean = float(cv2.mean(mag)[0])
    weight = cv2.add(mag, mean + 1e-6, dst=mag)
    a = cv2.multiply(gx, gx, dst=ws.get('a', sh))
    b = cv2.multiply(gy, gy, dst=ws.get('b', sh))
    cos2 = cv2.divide(cv2.subtract(a, b, dst=a), weight, dst=a)
    sin2 = cv2.divide(cv2.multiply(gx, gy, dst=b, scale=2.0), weight, dst=b)
    return cv2.merge([cos2, sin2], dst=ws.get('field' + tag, sh, 2)), mean


def _parabola(a: float, b: float, c: float) -> float:
    d = a - 2.0 * c + b
    return 0.0 if abs(d) < 1e-12 else float(np.clip(0.5 * (a - b) / d, -0.5, 0.5))


def working_pair(visible_rgb: np.ndarray, thermal01: np.ndarray,
                 width: int = WORK_WIDTH) -> tuple[np.ndarray, np.ndarray, float]:
    """
    Grey visible and thermal as float32 in [0, 1] at about ``width``, and the scale.

    Halved by ``cv2.pyrDown`` (blur and decimate in one pass) while at least
    twice as wide, then area-resized to ``width``.
    """
    if visible_rgb.ndim == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(visible_rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    else:
        grey = visible_rgb
    t = np.asarray(thermal01, np.float32)
    if t.ndim == 3:
        t = t.mean(axis=2)
    full_w = grey.shape[1]
    while grey.shape[1] >= 2 * width:
        grey, t = cv2.pyrDown(grey), cv2.pyrDown(t)
    h, w = grey.shape
    if w > width:
        size = (width, max(1, int(round(h * width / w))))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        t = cv2.resize(t, size, interpolation=cv2.INTER_AREA)
    g = grey.astype(np.float32) * (1.0 / 255.0) if grey.dtype == np.uint8 else \
        grey.astype(np.float32)
    return g, t, grey.shape[1] / float(full_w)


def estimate_shift(visible_rgb: np.ndarray, thermal01: np.ndarray, width: int = WORK_WIDTH,
                   search_px: int = SEARCH_PX, workspace: Workspace | None = None
                   ) -> ShiftEstimate:
    """Measure one registered pair (see the module docstring); output pixels."""
    if visible_rgb.shape[:2] != np.shape(thermal01)[:2]:
        raise ValueError(f'visible {visible_rgb.shape[:2]} and thermal '
                         f'{np.shape(thermal01)[:2]} differ in size')
    g, t, scale = working_pair(visible_rgb, thermal01, width)
    ws = workspace or Workspace()
    h, w = g.shape
    r = int(search_px)
    if h < 4 * r or w < 4 * r:
        return ShiftEstimate(0.0, 0.0, 0.0, texture=False)  # too small to say anything
    fv, mv = _orientation_field(g, ws, 'v')
    ft, mt = _orientation_field(t, ws, 't')
    if min(mv, mt) < MIN_TEXTURE:
        return ShiftEstimate(0.0, 0.0, 0.0, texture=False)
    res = cv2.matchTemplate(ft, np.ascontiguousarray(fv[r:h - r, r:w - r]), cv2.TM_CCORR_NORMED)
    _, peak, _, (ix, iy) = cv2.minMaxLoc(res)
    rh, rw = res.shape
    if not np.isfinite(peak) or peak <= 0 or ix in (0, rw - 1) or iy in (0, rh - 1):
        return ShiftEstimate(0.0, 0.0, 0.0)  # at the border of the search: not found
    fx = _parabola(res[iy, ix - 1], res[iy, ix + 1], peak)
    fy = _parabola(res[iy - 1, ix], res[iy + 1, ix], peak)
    e = PEAK_EXCLUSION_PX
    res[max(iy - e, 0):iy + e + 1, max(ix - e, 0):ix + e + 1] = -1.0
    second = max(float(res.max()), 0.0)
    return ShiftEstimate((ix + fx - r) / scale, (iy + fy - r) / scale, 1.0 - second / peak)


@dataclass(frozen=True)
class AlignmentSettings:
    """The monitor's parameters (``registration_*`` in config.py, where they are described)."""

    check_every: int = 3
    window: int = 5
    min_confidence: float = 0.2
    warn_px: float = 2.0
    warn_hold_s: float = 0.5
    autocorrect: bool = False
    autocorrect_max_px: float = 10.0

    @classmethod
    def from_config(cls, cfg) -> 'AlignmentSettings':
        """Build from the config's ``registration_*`` fields (the ``alignment`` part), by name."""
        return cls(**config_settings(cfg, 'alignment'))

    @property
    def min_used(self) -> int:
        """Confident checks needed for a verdict: a majority of a short window, at least 2."""
        return max(2, (self.window + 1) // 2) if self.window > 1 else 1


@dataclass(frozen=True)
class _Check:
    stamp: float
    dx: float  # absolute: measured + the correction applied to that frame
    dy: float
    confidence: float
    confident: bool


class AlignmentMonitor:
    """
    Checks every ``check_every``-th pair, keeps the verdict and the correction (module docstring).

    ``update`` runs on the pipeline's thread; ``report`` on the diagnostics
    timer's: a lock keeps them apart.
    """

    def __init__(self, settings: AlignmentSettings | None = None, prefix: str = 'fusion_node'):
        self.settings = settings or AlignmentSettings()
        self.prefix = prefix
        self._lock = threading.Lock()
        self._workspace = Workspace()
        self.reset()

    def bind(self, registrar) -> None:
        """Start afresh for ``registrar`` (a new registration): no history, no correction."""
        self.reset()
        self.source = registrar

    def reset(self) -> None:
        """Forget the history and the correction."""
        with self._lock:
            self.source = None  # the registrar whose pairs are checked (FramePipeline binds it)
            self._checks: deque = deque(maxlen=max(1, self.settings.window))
            self._pairs = 0
            self.level, self.message = STALE, 'waiting for the first checked pair'
            self.since = None  # stamp at which the current level began
            self._above_since: float | None = None
            self._below_since: float | None = None
            self.median: tuple[float, float] | None = None
            self.correction = (0.0, 0.0)
            self.corrections = 0
            self.checks = 0
            self.last_stamp: float | None = None
            self.last: ShiftEstimate | None = None

    def configure(self, settings) -> None:
        """
        Apply new parameters at run time; autocorrect off puts the correction back to zero.

        ``settings``: :class:`AlignmentSettings`, or a config to take them from.
        """
        if not isinstance(settings, AlignmentSettings):
            settings = AlignmentSettings.from_config(settings)
        with self._lock:
            if settings.window != self.settings.window:
                self._checks = deque(self._checks, maxlen=max(1, settings.window))
            if not settings.autocorrect:
                self.correction = (0.0, 0.0)
            self.settings = settings

    def time_reset(self) -> None:
        """Stamps jumped back (a bag loop): the history is on the old time line."""
        with self._lock:
            self._checks.clear()
            self._above_since = self._below_since = None

    # -- per pair -----------------------------------------------------------
    def due(self) -> bool:
        """Count a pair; True for every ``check_every``-th one (never when it is 0)."""
        every = self.settings.check_every
        if every <= 0:
            return False
        self._pairs += 1
        return (self._pairs - 1) % every == 0

    def update(self, stamp: float, visible_rgb: np.ndarray, thermal01: np.ndarray,
               applied: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float] | None:
        """
        Measure one registered pair taken at ``stamp`` with ``applied`` correction.

        Returns the new correction when autocorrect changed it, else None.
        """
        est = estimate_shift(visible_rgb, thermal01, workspace=self._workspace)
        return self.record(stamp, est, applied)

    def record(self, stamp: float, est: ShiftEstimate,
               applied: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float] | None:
        """Take one measurement (``update`` without the measuring: tests feed their own)."""
        with self._lock:
            s = self.settings
            self.checks += 1
            self.last, self.last_stamp = est, stamp
            confident = est.texture and est.confidence >= s.min_confidence
            self._checks.append(_Check(stamp, est.dx + applied[0], est.dy + applied[1],
                                       est.confidence, confident))
            self._judge(stamp)
            return self._autocorrect()

    def _judge(self, stamp: float) -> None:
        s = self.settings
        used = [c for c in self._checks if c.confident]
        if len(used) < s.min_used:
            self.median = None
            self._above_since = self._below_since = None
            if len(self._checks) < s.min_used:
                self._set(STALE, stamp, f'collecting: {len(self._checks)} of the {s.min_used} '
                                        'checked pairs a verdict needs')
                return
            blank = self.last is not None and not self.last.texture
            self._set(STALE, stamp, f'too little texture to check: {len(used)} of the last '
                                    f'{len(self._checks)} checked pairs confident (need '
                                    f'{s.min_used})'
                                    + ('; the last one is blank' if blank else ''))
            return
        dx = float(np.median([c.dx for c in used]))
        dy = float(np.median([c.dy for c in used]))
        self.median = (dx, dy)
        shift = math.hypot(dx, dy)
        if shift > s.warn_px:
            self._below_since = None
            self._above_since = stamp if self._above_since is None else self._above_since
            if stamp - self._above_since >= s.warn_hold_s or self.level == WARN:
                self._set(WARN, stamp, f'thermal is off by {shift:.1f} px ({dx:+.1f}, {dy:+.1f})'
                                       f' > registration_warn_px {s.warn_px:g}: recalibrate'
                                       + self._corrected_note())
        else:
            self._above_since = None
            self._below_since = stamp if self._below_since is None else self._below_since
            if self.level != WARN or stamp - self._below_since >= s.warn_hold_s:
                self._set(OK, stamp, f'aligned within {s.warn_px:g} px ({dx:+.1f}, {dy:+.1f})'
                                     + self._corrected_note())

    def _corrected_note(self) -> str:
        cx, cy = self.correction
        if not self.settings.autocorrect or (cx, cy) == (0.0, 0.0):
            return ''
        return f'; autocorrect shifts thermal by ({cx:+.1f}, {cy:+.1f}) px'

    def _set(self, level: int, stamp: float, message: str) -> None:
        if level != self.level or self.since is None:
            self.since = stamp
        self.level, self.message = level, message

    def _autocorrect(self) -> tuple[float, float] | None:
        s = self.settings
        if not s.autocorrect or self.median is None:
            return None
        tx, ty = self.median
        norm = math.hypot(tx, ty)
        if norm > s.autocorrect_max_px:  # bounded: never more than the limit
            tx, ty = tx * s.autocorrect_max_px / norm, ty * s.autocorrect_max_px / norm
        cx, cy = self.correction
        if math.hypot(tx - cx, ty - cy) < AUTOCORRECT_DEADBAND_PX:
            return None
        self.correction = (round(cx + AUTOCORRECT_GAIN * (tx - cx), 3),
                           round(cy + AUTOCORRECT_GAIN * (ty - cy), 3))
        self.corrections += 1
        return self.correction

    # -- report -------------------------------------------------------------
    def values(self) -> dict:
        """Return the diagnostics keys (also in process_bag's summary)."""
        with self._lock:
            return self._values()

    def _values(self) -> dict:
        used = [c for c in self._checks if c.confident]
        v = {'shift_x_px': round(self.median[0], 2) if self.median else 'unknown',
             'shift_y_px': round(self.median[1], 2) if self.median else 'unknown',
             'confidence': round(float(np.median([c.confidence for c in used])), 3)
             if used else 0.0,
             'frames_used': len(used), 'frames_checked': len(self._checks),
             'checks': self.checks, 'check_every': self.settings.check_every}
        if self.since is not None:
            v['level_since_stamp'] = round(self.since, 6)
        if self.last_stamp is not None:
            v['last_check_stamp'] = round(self.last_stamp, 6)
        if self.settings.autocorrect:
            v['correction_x_px'], v['correction_y_px'] = self.correction
            v['corrections'] = self.corrections
            if self.median:
                v['residual_px'] = round(math.hypot(self.median[0] - self.correction[0],
                                                    self.median[1] - self.correction[1]), 2)
        return v

    def report(self) -> StatusReport:
        """Return the ``<prefix>: registration`` status."""
        with self._lock:
            name = f'{self.prefix}: registration'
            if self.settings.check_every <= 0:
                return StatusReport(name, OK, 'not checked (registration_check_every is 0)',
                                    {'check_every': 0})
            return StatusReport(name, self.level, self.message, self._values())


__all__ = ['AlignmentMonitor', 'AlignmentSettings', 'estimate_shift', 'ShiftEstimate',
           'working_pair', 'Workspace']
