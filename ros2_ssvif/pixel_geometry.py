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
Pixel geometry of one camera: distort, undistort, apply a homography.

The registration file (``registration.py``) and the calibration both need
these point mappings; they live here so ``registration.py`` keeps to the
file format and its remap tables.
"""
from __future__ import annotations

import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo


def _project_normalized(xy: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """Map normalized undistorted coordinates (N,2) -> raw distorted pixels (N,2)."""
    pts = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 1, 2)
    if cam.distortion_model == 'equidistant':
        out = cv2.fisheye.distortPoints(pts, cam.camera_matrix, cam.distortion_coefficients[:4])
        return out.reshape(-1, 2)
    obj = np.concatenate([pts.reshape(-1, 2), np.ones((pts.shape[0], 1))], axis=1).reshape(
        -1, 1, 3
    )
    out, _ = cv2.projectPoints(
        obj, np.zeros(3), np.zeros(3), cam.camera_matrix, cam.distortion_coefficients
    )
    return out.reshape(-1, 2)


def undistort_pixels(points: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """Raw (distorted) pixels (N,2) -> undistorted pixels of the same K (N,2)."""
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 1, 2)
    if cam.distortion_model == 'equidistant':
        out = cv2.fisheye.undistortPoints(
            pts, cam.camera_matrix, cam.distortion_coefficients[:4], P=cam.camera_matrix
        )
    else:
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9)
        if hasattr(cv2, 'undistortPointsIter'):  # OpenCV 4.x (4.5/4.6 reject criteria= below)
            out = cv2.undistortPointsIter(pts, cam.camera_matrix, cam.distortion_coefficients,
                                          None, cam.camera_matrix, criteria)
        else:  # OpenCV 5 merged the iterative variant into undistortPoints
            out = cv2.undistortPoints(pts, cam.camera_matrix, cam.distortion_coefficients,
                                      P=cam.camera_matrix, criteria=criteria)
    return out.reshape(-1, 2)


def distort_pixels(points: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """Undistorted pixels of the same K (N,2) -> raw distorted pixels (N,2)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    kinv = np.linalg.inv(cam.camera_matrix)
    xy = (np.c_[pts, np.ones(len(pts))] @ kinv.T)[:, :2]
    return _project_normalized(xy, cam)


def apply_homography(H: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ph = np.c_[pts, np.ones(len(pts))] @ np.asarray(H, dtype=np.float64).T
    return ph[:, :2] / ph[:, 2:3]
