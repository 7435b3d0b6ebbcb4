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
Thermal -> visible homography in undistorted pixels, and its depth error.

A homography is exact for one plane only. Either it is fitted (RANSAC /
MAGSAC) to board corners seen by both cameras, FMB-style, or it is the
homography of a user-chosen working plane ``Z = d`` (visible frame) through
the calibrated pair. Either way the report says how far points at other
depths will be off, from the calibrated baseline.
"""
from __future__ import annotations

from calibration.cv_compat import ROBUST_HOMOGRAPHY
from calibration.errors import CalibrationError
import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo
from ros2_ssvif.registration import apply_homography, undistort_pixels


def check_homography(H) -> np.ndarray:
    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-9:
        raise CalibrationError('the thermal->visible homography is degenerate '
                               '(too few or collinear correspondences)')
    H = H / H[2, 2]
    s = np.linalg.svd(H[:2, :2], compute_uv=False)
    if s[1] < 1e-3 or s[0] / s[1] > 20:
        raise CalibrationError(f'the thermal->visible homography is degenerate '
                               f'(singular values {s[0]:.3g}, {s[1]:.3g})')
    return H


def _visible_grid(vis: CameraInfo, n: int = 25) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, vis.width - 1, n), np.linspace(0, vis.height - 1, n))
    return np.c_[u.ravel(), v.ravel()]


def plane_correspondences(vis: CameraInfo, th: CameraInfo, R, t, distance: float):
    """
    Map undistorted visible pixels to undistorted thermal through the plane Z = distance.

    Returns the undistorted visible pixels and where the same points on the
    plane Z = distance (visible frame; inf = at infinity) land in undistorted
    thermal.
    """
    pv = _visible_grid(vis)
    rays = np.c_[pv, np.ones(len(pv))] @ np.linalg.inv(vis.camera_matrix).T
    if np.isinf(distance):
        Xt = rays @ np.asarray(R).T  # directions: translation vanishes
    else:
        Xt = (rays * distance) @ np.asarray(R).T + np.asarray(t).ravel()
    pt = Xt @ th.camera_matrix.T
    return pv, pt[:, :2] / pt[:, 2:3]


def homography_from_plane(vis: CameraInfo, th: CameraInfo, R, t, distance: float) -> np.ndarray:
    if not (np.isinf(distance) or distance > 0):
        raise CalibrationError(f'--plane-distance must be positive metres or inf, got {distance}')
    pv, pt = plane_correspondences(vis, th, R, t, distance)
    H, _ = cv2.findHomography(pt, pv, ROBUST_HOMOGRAPHY, 0.5)
    return check_homography(H)


def homography_from_corners(pairs: list[tuple[np.ndarray, np.ndarray]], vis: CameraInfo,
                            th: CameraInfo):
    """Fit to (visible raw points, thermal raw points) pairs; returns H and inlier RMS (px)."""
    if not pairs:
        raise CalibrationError('no joint board views to fit the homography to')
    pv = np.vstack([undistort_pixels(a, vis) for a, _ in pairs])
    pt = np.vstack([undistort_pixels(b, th) for _, b in pairs])
    if len(pv) < 4:
        raise CalibrationError(f'only {len(pv)} joint points; a homography needs at least 4')
    H, mask = cv2.findHomography(pt, pv, ROBUST_HOMOGRAPHY, 2.0)
    H = check_homography(H)
    inl = mask.ravel().astype(bool) if mask is not None else np.ones(len(pv), bool)
    err = np.linalg.norm(apply_homography(H, pt[inl]) - pv[inl], axis=1)
    return H, float(np.sqrt(np.mean(err ** 2)))


def misalignment_by_depth(H, vis: CameraInfo, th: CameraInfo, R, t,
                          depths=(3.0, 5.0, 10.0, 20.0, np.inf)) -> dict:
    """
    Measure the median / max error (undistorted visible px) of H at other depths.

    H is judged on fronto-parallel planes at other depths: the parallax the
    baseline leaves uncorrected.
    """
    out = {}
    for z in depths:
        pv, pt = plane_correspondences(vis, th, R, t, z)
        e = np.linalg.norm(apply_homography(H, pt) - pv, axis=1)
        out['inf' if np.isinf(z) else f'{z:g}'] = {'median_px': float(np.median(e)),
                                                   'max_px': float(e.max())}
    return out
