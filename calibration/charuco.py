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
ChArUco corners, in either polarity, with any OpenCV 4.5-5.x.

The markers are found by the ArUco detector (through
:mod:`calibration.cv_compat`), the chessboard corners between them
interpolated by OpenCV, checked against their neighbours and re-measured
with ``cornerSubPix``.
"""
from __future__ import annotations

from calibration.boards import BoardSpec
from calibration.cv_compat import CharucoFinder
from calibration.normalize import candidates
import cv2
import numpy as np


def repair_local_outliers(pts: np.ndarray, obj_xy: np.ndarray) -> np.ndarray:
    """
    Move corners that disagree with their neighbours onto the neighbours' prediction.

    OpenCV 4.5/4.6 interpolate ChArUco corners several pixels off, and
    ``cornerSubPix`` occasionally settles on a marker's corner instead.
    Around one corner lens distortion is close to projective, so a
    homography fitted (RANSAC) to the neighbours within 2.3 squares
    predicts it to a fraction of a pixel; a corner a sixth of a square off
    that prediction starts again from it.
    """
    out = pts.astype(np.float64).copy()
    if len(pts) < 5:
        return out
    d_obj = np.linalg.norm(obj_xy[:, None] - obj_xy[None], axis=2)
    step = np.min(d_obj[d_obj > 0])
    for k in range(len(pts)):
        nb = (d_obj[k] > 0) & (d_obj[k] < 2.3 * step)
        if nb.sum() < 5:
            continue
        px_per_m = np.median(np.linalg.norm(pts[nb] - pts[k], axis=1) / d_obj[k, nb])
        H, _ = cv2.findHomography(obj_xy[nb], pts[nb], cv2.RANSAC, 0.05 * step * px_per_m)
        if H is None:
            continue
        pred = cv2.perspectiveTransform(obj_xy[k].reshape(1, 1, 2), H).reshape(2)
        if np.linalg.norm(pred - pts[k]) > step * px_per_m / 6:
            out[k] = pred
    return out


def refine_saddles(gray8: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Sub-pixel ChArUco corners, and a mask of those that stayed put.

    The detector places corners by a homography from the markers, which
    lens distortion bends by pixels. ``cornerSubPix`` fixes that, but its
    window must stay clear of the markers inside the white squares, an
    eighth of a square away: a wide pass pulls far guesses in, a narrow
    pass (~0.12 square) settles them without the marker edges.
    """
    if len(pts) < 2:
        return pts, np.ones(len(pts), bool)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    np.fill_diagonal(d, np.inf)
    square = float(np.median(d.min(axis=1)))
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
    p = pts.astype(np.float32).reshape(-1, 1, 2).copy()
    for frac in (0.25, 0.12):
        hw = int(max(2, round(frac * square)))
        p = cv2.cornerSubPix(gray8, p, (hw, hw), (-1, -1), crit)
    out = p.reshape(-1, 2).astype(np.float64)
    return out, np.linalg.norm(out - pts, axis=1) < 0.3 * square


def detect_charuco(gray: np.ndarray, board: BoardSpec):
    """
    Detect ChArUco corners.

    Reliable in the visible band; on blurred thermal frames the small markers
    often decode in neither polarity, so expect fewer corners (or none) there
    and prefer a chessboard or circle grid for the thermal camera
    (``--thermal-board``).
    """
    finder = CharucoFinder(board.charuco_board(), min_markers=1)
    best = None
    for name, img in candidates(gray):
        found = finder.find(img)
        if found is None:
            continue
        corners, ids = found
        if len(ids) < board.min_points or (best is not None and len(ids) <= len(best[2])):
            continue
        pts, ok = refine_saddles(img, corners)
        obj = board.object_points()[ids, :2]
        moved = np.linalg.norm(repair_local_outliers(pts, obj) - pts, axis=1) > 0
        if moved.any():  # stuck on a marker corner: start again from the neighbours' prediction
            again, ok2 = refine_saddles(img, repair_local_outliers(pts, obj))
            pts[moved], ok[moved] = again[moved], ok2[moved]
            ok &= np.linalg.norm(repair_local_outliers(pts, obj) - pts, axis=1) == 0
        if ok.sum() >= board.min_points and (best is None or ok.sum() > len(best[2])):
            best = (name, pts[ok], ids[ok])
            if len(ids) == (board.cols - 1) * (board.rows - 1):
                break
    return best
