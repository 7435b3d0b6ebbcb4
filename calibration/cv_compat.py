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
One face for the OpenCV calls whose signature changed between 4.5 and 5.x.

ROS 2 Humble/Jazzy and JetPack 6 install OpenCV 4.5/4.6 with numpy 1.x;
pip gives 4.10+ or 5.x. Between them the ``*Extended`` calibration calls
changed how many values they return (``stereoCalibrateExtended`` gained
per-view rvecs/tvecs in 4.7), ``undistortPoints`` took over the iteration
criteria of ``undistortPointsIter``, and ChArUco moved from free functions
(``CharucoBoard_create``, ``detectMarkers`` + ``interpolateCornersCharuco``,
``board.draw``) to objects (``CharucoBoard``, ``CharucoDetector``,
``generateImage``). Every calibration module calls these wrappers instead of
OpenCV directly, so a version difference is handled here once. The values
returned are the same whichever API answered.
"""
from __future__ import annotations

import cv2
import numpy as np


VERSION = tuple(int(p) for p in cv2.__version__.split('.')[:2])
NEW_ARUCO = hasattr(cv2, 'aruco') and hasattr(cv2.aruco, 'CharucoDetector')
# MAGSAC++ arrived with USAC in 4.5; plain RANSAC before it
ROBUST_HOMOGRAPHY = getattr(cv2, 'USAC_MAGSAC', cv2.RANSAC)


def calibrate_camera(object_points, image_points, size, flags: int, criteria, K=None, D=None):
    """``calibrateCameraExtended`` -> (rms, K, D (1-D), rvecs, tvecs, per-view RMS (1-D))."""
    out = cv2.calibrateCameraExtended(object_points, image_points, size, K, D, flags=flags,
                                      criteria=criteria)
    rms, K, D, rv, tv = out[:5]
    return float(rms), K, np.asarray(D, np.float64).ravel(), rv, tv, np.asarray(out[-1]).ravel()


def stereo_calibrate(object_points, points1, points2, K1, D1, K2, D2, size, flags: int, criteria):
    """
    ``stereoCalibrateExtended`` -> (rms, K1, D1, K2, D2, R, T (1-D), per-view (n, 2) RMS).

    4.5/4.6 return 10 values, 4.7+ 12 (per-view rvecs/tvecs before the
    per-view errors); the leading seven and the last one mean the same.
    """
    R0, T0 = np.eye(3), np.zeros((3, 1))
    out = cv2.stereoCalibrateExtended(object_points, points1, points2, K1, D1, K2, D2, size,
                                      R0, T0, flags=flags, criteria=criteria)
    rms, K1, D1, K2, D2, R, T = out[:7]
    per_view = np.asarray(out[-1], np.float64).reshape(len(object_points), -1)
    return (float(rms), K1, np.asarray(D1).ravel(), K2, np.asarray(D2).ravel(), R,
            np.asarray(T, np.float64).ravel(), per_view)


def undistort_points(points, K, D, criteria, P=None) -> np.ndarray:
    """
    Run ``undistortPoints`` with an iteration ``criteria``.

    4.x spells it ``undistortPointsIter`` (4.5/4.6 reject ``criteria=``), 5.x
    merged the two. Normalised coordinates unless ``P`` is given; (N,2).
    """
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 1, 2)
    if hasattr(cv2, 'undistortPointsIter'):
        out = cv2.undistortPointsIter(pts, K, D, None, P, criteria)
    else:
        out = cv2.undistortPoints(pts, K, D, P=P, criteria=criteria)
    return out.reshape(-1, 2)


def aruco_dictionary(name: str):
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))


def charuco_board(cols: int, rows: int, square: float, marker: float, dictionary: str):
    d = aruco_dictionary(dictionary)
    if NEW_ARUCO:
        return cv2.aruco.CharucoBoard((cols, rows), square, marker, d)
    return cv2.aruco.CharucoBoard_create(cols, rows, square, marker, d)


def charuco_corners(board) -> np.ndarray:
    """Return the board's chessboard corners (N,3), in ChArUco id order."""
    pts = board.getChessboardCorners() if NEW_ARUCO else board.chessboardCorners
    return np.asarray(pts, np.float64).reshape(-1, 3)


def charuco_image(board, size: tuple[int, int]) -> np.ndarray:
    """
    Draw the printed board, 8-bit, ``size`` = (width, height).

    No margin, 1-bit marker borders.
    """
    if NEW_ARUCO:
        return board.generateImage(size, marginSize=0, borderBits=1)
    return board.draw(size, marginSize=0, borderBits=1)


def _marker_parameters():
    params = cv2.aruco.DetectorParameters() if NEW_ARUCO else cv2.aruco.DetectorParameters_create()
    params.detectInvertedMarker = True  # heated boards show either polarity
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return params


class CharucoFinder:
    """ChArUco corners of one board in 8-bit images: (corners (N,2), ids (N,)) or None."""

    def __init__(self, board, min_markers: int = 1) -> None:
        self.board = board
        self.min_markers = min_markers
        self.params = _marker_parameters()
        if NEW_ARUCO:
            cparams = cv2.aruco.CharucoParameters()
            cparams.minMarkers = min_markers
            self.detector = cv2.aruco.CharucoDetector(board, cparams, self.params)

    def find(self, gray8: np.ndarray):
        if NEW_ARUCO:
            corners, ids, _, _ = self.detector.detectBoard(gray8)
        else:
            mk, mids, _ = cv2.aruco.detectMarkers(gray8, self.board.dictionary,
                                                  parameters=self.params)
            if mids is None or len(mids) == 0:
                return None
            n, corners, ids = cv2.aruco.interpolateCornersCharuco(mk, mids, gray8, self.board,
                                                                  minMarkers=self.min_markers)
            if not n:
                return None
        if ids is None or len(ids) == 0:
            return None
        return np.asarray(corners, np.float64).reshape(-1, 2), np.asarray(ids).ravel().astype(int)


def chessboard_sharpness(gray8: np.ndarray, pattern_size, corners: np.ndarray) -> float | None:
    """
    Measure the mean width (px) of the black-white transition along the board's edges.

    From ``estimateChessboardSharpness`` (OpenCV >= 4.3); None where unavailable
    or not measurable.
    """
    if not hasattr(cv2, 'estimateChessboardSharpness'):
        return None
    try:
        val, _ = cv2.estimateChessboardSharpness(gray8, tuple(pattern_size),
                                                 np.asarray(corners, np.float32).reshape(-1, 1, 2))
    except cv2.error:
        return None
    s = float(val[0])
    return s if np.isfinite(s) and s > 0 else None
