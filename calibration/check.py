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
``calibrate --check``: measure how well an existing registration aligns a recorded drive.

The node's registration monitor (:mod:`ros2_ssvif.alignment`) answers it
while driving; this answers it offline, over a drive (a rosbag2, or a
segment ``BAG@START:END`` of it) or two folders of raw pairs, with the same
measurement: every pair is registered with ``registration.yaml``, the
gradient-orientation correlation gives the shift of thermal against
visible in output pixels, and the verdict is the median of the confident
pairs (its spread is reported too: parallax makes near and far edges
disagree by design). ``--write-corrected`` writes the registration with
that shift folded into its homography (thermal -> visible, in undistorted
visible pixels), keeping crop and output size, so the fused camera stays
the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from calibration.errors import CalibrationError
import numpy as np
from ros2_ssvif.alignment import AlignmentSettings, estimate_shift, Workspace
from ros2_ssvif.registration import Registration
from ros2_ssvif.thermal import ThermalNormalizer


@dataclass
class CheckResult:
    """Per-pair estimates and the verdict; ``shift`` None when too few pairs were confident."""

    pairs: int = 0
    estimates: list = field(default_factory=list)  # (name, dx, dy, confidence)
    confident: list = field(default_factory=list)
    shift: tuple[float, float] | None = None
    spread_px: float = 0.0
    confidence: float = 0.0


def _pairs(source: list[str], rgb_topic: str, thermal_topic: str, max_dt: float):
    """(name, visible RGB, raw thermal, is_video) from a bag (segment) or two folders."""
    from calibration.intrinsic_sources import parse_segment
    from calibration.sources import load_image, paired_files, read_bag_pairs

    if len(source) == 2:
        for name, pv, pt in paired_files(*source):
            yield name, load_image(pv), load_image(pt), False
        return
    path, start, end = parse_segment(source[0])
    if not path.exists():
        raise CalibrationError(f'--check: not found: {path}')
    for name, vis, th in read_bag_pairs(path, rgb_topic, thermal_topic, max_dt,
                                        segment=(start, end)):
        yield name, vis, th, True


def check_registration(registration: Registration, source: list[str],
                       rgb_topic: str = '/rgb/image_raw',
                       thermal_topic: str = '/thermal/image_raw', max_dt: float = 0.05,
                       settings: AlignmentSettings | None = None,
                       progress=None) -> CheckResult:
    """Measure every pair of ``source`` registered by ``registration`` (see module docstring)."""
    settings = settings or AlignmentSettings()
    maps = registration.build_maps()
    video, stills = ThermalNormalizer(video=True), ThermalNormalizer().for_stills()
    ws, res = Workspace(), CheckResult()
    for name, vis, th, is_video in _pairs(source, rgb_topic, thermal_topic, max_dt):
        if th.ndim == 3:
            th = th.mean(axis=2).astype(th.dtype)
        if vis.ndim == 2:
            vis = np.repeat(vis[:, :, None], 3, axis=2)
        if vis.dtype != np.uint8:
            vis = (vis >> 8).astype(np.uint8)
        try:
            rv, rt = maps.register_pair(vis, th)
        except ValueError as exc:  # RegistrationError: the pair is not the calibrated size
            raise CalibrationError(f'{name}: {exc}') from None
        t01 = (video if is_video else stills)(rt)
        est = estimate_shift(rv, t01, workspace=ws)
        res.pairs += 1
        res.estimates.append((name, est.dx, est.dy, est.confidence))
        if est.texture and est.confidence >= settings.min_confidence:
            res.confident.append((name, est.dx, est.dy, est.confidence))
        if progress is not None:
            progress(1)
    if res.pairs == 0:
        raise CalibrationError(f'--check: no pairs in {" ".join(source)}')
    if len(res.confident) >= min(settings.min_used, res.pairs):
        d = np.array([(dx, dy) for _, dx, dy, _ in res.confident])
        med = np.median(d, axis=0)
        res.shift = (float(med[0]), float(med[1]))
        res.spread_px = float(np.median(np.hypot(*(d - med).T)))
        res.confidence = float(np.median([c for *_, c in res.confident]))
    return res


def corrected_registration(registration: Registration, shift: tuple[float, float],
                           note: dict | None = None) -> Registration:
    """
    Return the registration with thermal moved back by ``shift`` output px (crop, size kept).

    Output pixels are visible-undistorted pixels scaled by output/crop size,
    so the shift is a translation T of (-dx * crop_w / out_w, -dy * crop_h /
    out_h) after the homography: H' = T H.
    """
    x, y, w, h = registration.crop
    ow, oh = registration.output_size
    T = np.array([[1.0, 0.0, -shift[0] * w / ow], [0.0, 1.0, -shift[1] * h / oh], [0, 0, 1.0]])
    info = dict(registration.info)
    info['corrected_by_check'] = {'shift_px': [round(float(v), 3) for v in shift], **(note or {})}
    return Registration(registration.visible, registration.thermal, T @ registration.homography,
                        registration.crop, registration.output_size, info)


__all__ = ['check_registration', 'CheckResult', 'corrected_registration']
