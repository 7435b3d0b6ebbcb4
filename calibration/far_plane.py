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
Measured alignment at the working distance: the number a user cares about.

The expected-misalignment table (:func:`calibration.homography.misalignment_by_depth`)
is what the calibrated model predicts; this is what images say. A pair
showing a board at the working distance (a joint view whose board is
close enough to ``--plane-distance`` that the homography's parallax there is
under ``NEAR_PX``, or a pair given with ``--far-pair``, e.g. a large board
or the joint board far away) is detected in both raw images, its points are
re-measured through the calibrated lens models, and each point's visible
and thermal images are mapped into the registered output: their distance is
the misalignment a fused frame will show there. Next to it stands what the
model expects at the board's own distance, so a board not quite at the
working distance is not mistaken for a bad calibration.
"""
from __future__ import annotations

from calibration.boards import BoardSpec
from calibration.detect import detect_board, Detection
from calibration.homography import misalignment_by_depth
from calibration.refine import refine_points
import cv2
import numpy as np
from ros2_ssvif.registration import Registration


NEAR_PX = 0.25  # joint views whose expected parallax is below this count as "at" the working plane


def board_distance(det: Detection, K, D) -> float | None:
    """
    Depth (m) of the board's centre along the visible camera's axis, from PnP.

    Depth, not range: the expected misalignment models the plane Z = d
    (``misalignment_by_depth``), and off-axis the two differ (15.09 m deep is
    15.58 m away for a board 4 m to the side).
    """
    ok, rv, tv = cv2.solvePnP(det.object_points, det.image_points, K, D)
    if not ok:
        return None
    centre = det.object_points.mean(axis=0)
    return float((cv2.Rodrigues(rv)[0] @ centre + tv.ravel())[2])


def registered_errors(reg: Registration, vis: Detection, th: Detection) -> np.ndarray:
    """Per common point: distance (output px) between its registered visible and thermal images."""
    common, iv, it = np.intersect1d(vis.ids, th.ids, return_indices=True)
    a = reg.visible_raw_to_output(vis.image_points[iv])
    b = reg.thermal_raw_to_output(th.image_points[it])
    return np.linalg.norm(a - b, axis=1)


def expected_px(reg: Registration, distance: float | None) -> float | None:
    """Median misalignment (px) the model expects for a plane at ``distance``."""
    if distance is None:
        return None
    R = np.asarray(reg.info['R_visible_to_thermal'])
    t = np.asarray(reg.info['t_visible_to_thermal_m'])
    m = misalignment_by_depth(reg.homography, reg.visible, reg.thermal, R, t, depths=(distance,))
    return float(next(iter(m.values()))['median_px'])


def _summary(reg: Registration, e: np.ndarray, distance: float | None) -> dict:
    exp = expected_px(reg, distance)
    return {'board distance m': None if distance is None else round(distance, 2),
            'points': int(len(e)), 'median px': round(float(np.median(e)), 3),
            'p95 px': round(float(np.percentile(e, 95)), 3), 'max px': round(float(e.max()), 3),
            'expected px': None if exp is None else round(exp, 3)}


def measure_far_pairs(reg: Registration, pairs, board: BoardSpec) -> dict[str, dict]:
    """
    Measure the alignment of user-given far pairs ``(name, visible, thermal)``.

    A pair whose board is not found in both images says so instead of a number.
    """
    out: dict[str, dict] = {}
    for name, vis, th in pairs:
        a, b = detect_board(vis, board), detect_board(th, board)
        if a is None or b is None:
            out[name] = {'error': f'board {board} not found in the '
                                  f"{'visible' if a is None else 'thermal'} image"}
            continue
        Kv, Dv = reg.visible.camera_matrix, reg.visible.distortion_coefficients
        a = refine_points(vis, a, board, Kv, Dv)
        Kt, Dt = reg.thermal.camera_matrix, reg.thermal.distortion_coefficients
        b = refine_points(th, b, board, Kt, Dt)
        out[name] = _summary(reg, registered_errors(reg, a, b), board_distance(a, Kv, Dv))
    return out


def measure_joint_views(reg: Registration, dv: dict[str, Detection], dt: dict[str, Detection],
                        plane_distance: float | None) -> dict[str, dict]:
    """
    Measure the alignment of the joint views whose board lies at the working plane.

    That is, the homography's expected parallax there is under ``NEAR_PX``.
    """
    if plane_distance is None:
        return {}
    out = {}
    Kv, Dv = reg.visible.camera_matrix, reg.visible.distortion_coefficients
    for name in sorted(set(dv) & set(dt)):
        d = board_distance(dv[name], Kv, Dv)
        exp = expected_px(reg, d)
        if exp is not None and exp <= NEAR_PX:
            out[name] = _summary(reg, registered_errors(reg, dv[name], dt[name]), d)
    return out
