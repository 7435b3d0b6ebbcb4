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
Relative pose of the thermal camera to the visible one, intrinsics fixed.

Each sensor was calibrated on its own views, which are more and better
spread than the joint ones, so only R, t are solved here, in the rig
convention ``X_t = R @ X_v + t``. :mod:`calibration.joint` may then refine
both together where that predicts left-out views better.

Joint views pair points by their id on one board: both detections must come
from the same board spec (FMB's separate boards are for the per-sensor
intrinsic captures only); :func:`check_same_board` refuses anything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from calibration.boards import BoardSpec
from calibration.cv_compat import stereo_calibrate
from calibration.detect import Detection
from calibration.errors import CalibrationError
import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo
from ros2_ssvif.registration import undistort_pixels


@dataclass
class StereoResult:
    R: np.ndarray
    t: np.ndarray
    rms: float  # stereoCalibrate reprojection RMS (px)
    epipolar_rms: float  # thermal point to epipolar line (undistorted thermal px)
    views: list[str]
    per_view_rms: dict[str, float]
    rejected: dict[str, float] = field(default_factory=dict)  # view -> its error when dropped
    warnings: list[str] = field(default_factory=list)


OUTLIER_FACTOR = 5.0  # a joint view this many times the median view's error disagrees
OUTLIER_MIN_PX = 2.0  # ... and is at least this far off (px): sub-pixel spread is not an outlier
STEREO_WARN_PX = 1.0  # a stereo RMS above this after rejection means the pair does not agree


def check_same_board(visible_board: BoardSpec, thermal_board: BoardSpec) -> None:
    """Points of two different boards cannot be paired by index."""
    if visible_board != thermal_board:
        raise CalibrationError(
            f'the joint views show {visible_board} to the visible camera but {thermal_board} '
            f'to the thermal camera; points of different boards cannot be paired by index '
            f'(give each sensor its own captures with --visible-intrinsics/--thermal-intrinsics '
            f'and one --board both see)')


def joint_points(vis: Detection, th: Detection):
    """Object and image points seen by both cameras in one view (by id)."""
    common, iv, it = np.intersect1d(vis.ids, th.ids, return_indices=True)
    return vis.object_points[iv], vis.image_points[iv], th.image_points[it]


def epipolar_rms(pv: list, pt: list, vis: CameraInfo, th: CameraInfo, R, t) -> float:
    """RMS distance (undistorted thermal px) of thermal points to their epipolar lines."""
    E = np.cross(np.eye(3), np.asarray(t).ravel()) @ R  # [t]x R
    F = np.linalg.inv(th.camera_matrix).T @ E @ np.linalg.inv(vis.camera_matrix)
    d2 = []
    for a, b in zip(pv, pt):
        ua = undistort_pixels(a.reshape(-1, 2), vis)
        ub = undistort_pixels(b.reshape(-1, 2), th)
        lines = np.c_[ua, np.ones(len(ua))] @ F.T
        num = np.abs(np.sum(lines * np.c_[ub, np.ones(len(ub))], axis=1))
        d2 += list((num / np.linalg.norm(lines[:, :2], axis=1)) ** 2)
    return float(np.sqrt(np.mean(d2)))


def calibrate_pair(vis_dets: dict[str, Detection], th_dets: dict[str, Detection],
                   vis: CameraInfo, th: CameraInfo, min_points: int = 6) -> StereoResult:
    names = sorted(set(vis_dets) & set(th_dets))
    obj, pv, pt, used = [], [], [], []
    for n in names:
        o, a, b = joint_points(vis_dets[n], th_dets[n])
        if len(o) >= min_points:
            obj.append(o.astype(np.float32).reshape(-1, 1, 3))
            pv.append(a.astype(np.float32).reshape(-1, 1, 2))
            pt.append(b.astype(np.float32).reshape(-1, 1, 2))
            used.append(n)
    if not used:
        raise CalibrationError(
            'no view shows the board to both cameras; the relative pose needs at least one')
    rejected: dict[str, float] = {}
    while True:
        rms, _, _, _, _, R, t, per_view = stereo_calibrate(
            obj, pv, pt, vis.camera_matrix, vis.distortion_coefficients, th.camera_matrix,
            th.distortion_coefficients, (vis.width, vis.height), cv2.CALIB_FIX_INTRINSIC,
            (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12))
        errors = {n: float(e) for n, e in zip(used, per_view.max(axis=1))}
        worst = max(errors, key=errors.get)
        limit = max(OUTLIER_MIN_PX, OUTLIER_FACTOR * float(np.median(list(errors.values()))))
        # One view at a time, worst first, while most views remain: a view whose board was
        # read in a different order by the two cameras (a square board, one held in portrait)
        # pairs the wrong points and would pull the pose off by centimetres.
        if errors[worst] <= limit or 2 * (len(used) - 1) < len(used) + len(rejected):
            break
        rejected[worst] = errors[worst]
        k = used.index(worst)
        for lst in (obj, pv, pt, used):
            del lst[k]
    result = StereoResult(R, t, rms, epipolar_rms(pv, pt, vis, th, R, t), used, errors, rejected)
    if rejected:
        result.warnings.append(
            f"joint view(s) {', '.join(f'{n} ({e:.1f} px)' for n, e in rejected.items())} "
            f'disagree with the other {len(used)} and were left out: the two cameras may have '
            'read the board in different orders there (a square board, or one held in portrait)')
    if rms > STEREO_WARN_PX:
        result.warnings.append(
            f'stereo RMS {rms:.2f} px: the cameras do not agree on the joint views (same board, '
            'same instant? --board rows and columns right?); do not trust this registration')
    return result
