"""Relative pose of the thermal camera to the visible one.

Intrinsics are fixed (each sensor was calibrated on its own views, which
are more and better spread than the joint ones); only R, t are solved, in
the rig convention ``X_t = R @ X_v + t``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calibration.detect import Detection
from calibration.intrinsics import CalibrationError
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


def joint_points(vis: Detection, th: Detection):
    """Object and image points seen by both cameras in one view (by id)."""
    common, iv, it = np.intersect1d(vis.ids, th.ids, return_indices=True)
    return vis.object_points[iv], vis.image_points[iv], th.image_points[it]


def calibrate_pair(vis_dets: dict[str, Detection], th_dets: dict[str, Detection],
                   vis: CameraInfo, th: CameraInfo, min_points: int = 6) -> StereoResult:
    names = [n for n in sorted(set(vis_dets) & set(th_dets))]
    obj, pv, pt, used = [], [], [], []
    for n in names:
        o, a, b = joint_points(vis_dets[n], th_dets[n])
        if len(o) >= min_points:
            obj.append(o.astype(np.float32).reshape(-1, 1, 3))
            pv.append(a.astype(np.float32).reshape(-1, 1, 2))
            pt.append(b.astype(np.float32).reshape(-1, 1, 2))
            used.append(n)
    if not used:
        raise CalibrationError("no view shows the board to both cameras; the relative pose needs at least one")
    rms, _, _, _, _, R, T, _, _, _, _, per_view = cv2.stereoCalibrateExtended(
        obj, pv, pt, vis.camera_matrix, vis.distortion_coefficients, th.camera_matrix, th.distortion_coefficients,
        (vis.width, vis.height), None, None, flags=cv2.CALIB_FIX_INTRINSIC,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12))
    t = T.ravel()
    E = np.cross(np.eye(3), t) @ R  # [t]x R
    F = np.linalg.inv(th.camera_matrix).T @ E @ np.linalg.inv(vis.camera_matrix)
    d2 = []
    for a, b in zip(pv, pt):
        ua = undistort_pixels(a.reshape(-1, 2), vis)
        ub = undistort_pixels(b.reshape(-1, 2), th)
        lines = np.c_[ua, np.ones(len(ua))] @ F.T
        num = np.abs(np.sum(lines * np.c_[ub, np.ones(len(ub))], axis=1))
        d2 += list((num / np.linalg.norm(lines[:, :2], axis=1)) ** 2)
    pvr = np.asarray(per_view).reshape(len(used), -1).max(axis=1)
    return StereoResult(R, t, float(rms), float(np.sqrt(np.mean(d2))), used,
                        {n: float(e) for n, e in zip(used, pvr)})
