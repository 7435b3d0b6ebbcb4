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
calibration.cv_compat gives the same answers on OpenCV 4.5/4.6 and 4.7+/5.x.

4.5/4.6: ROS 2 Humble/Jazzy, JetPack 6; run this file with both.
"""
from calibration import cv_compat
from calibration.boards import parse_board
import cv2
import numpy as np


K = np.array([[600.0, 0, 320.5], [0, 598.0, 240.25], [0, 0, 1]])
D = np.array([-0.25, 0.09, 0.0007, -0.0004, 0.0])
TIGHT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-14)


def _views(n=8, seed=0):
    """Exact projections of a 9x6 board in n tilted poses (no image needed)."""
    rng = np.random.default_rng(seed)
    obj = parse_board('chessboard:9x6:0.05').object_points()
    out = []
    for _ in range(n):
        rv = np.deg2rad(rng.uniform(-35, 35, 3)) * np.array([1, 1, 0.4])
        tv = np.array([rng.uniform(-0.3, 0.1), rng.uniform(-0.2, 0.05), rng.uniform(0.8, 1.4)])
        out.append((obj, rv, tv))
    return out


def test_calibrate_camera_recovers_exact_intrinsics():
    obj, img = [], []
    for o, rv, tv in _views():
        obj.append(o.astype(np.float32).reshape(-1, 1, 3))
        img.append(cv2.projectPoints(o, rv, tv, K, D)[0].astype(np.float32))
    rms, K1, D1, rvecs, tvecs, per_view = cv_compat.calibrate_camera(obj, img, (640, 480),
                                                                     cv2.CALIB_FIX_K3, TIGHT)
    assert rms < 1e-3 and per_view.shape == (8,) and D1.ndim == 1 and len(rvecs) == 8
    assert np.allclose(K1, K, rtol=1e-4) and np.allclose(D1[:4], D[:4], atol=1e-4)


def test_stereo_calibrate_recovers_the_rig():
    R = cv2.Rodrigues(np.deg2rad([0.5, -1.0, 0.3]))[0]
    t = np.array([-0.08, 0.01, 0.002])
    K2 = np.array([[540.0, 0, 316.0], [0, 539.0, 260.0], [0, 0, 1]])
    obj, p1, p2 = [], [], []
    for o, rv, tv in _views(seed=1):
        Rb = cv2.Rodrigues(rv)[0]
        obj.append(o.astype(np.float32).reshape(-1, 1, 3))
        p1.append(cv2.projectPoints(o, rv, tv, K, D)[0].astype(np.float32))
        q, _ = cv2.projectPoints(o, cv2.Rodrigues(R @ Rb)[0], R @ tv + t, K2, D)
        p2.append(q.astype(np.float32))
    rms, _, _, _, _, R1, t1, per_view = cv_compat.stereo_calibrate(
        obj, p1, p2, K, D, K2, D, (640, 480), cv2.CALIB_FIX_INTRINSIC, TIGHT)
    assert rms < 1e-3 and per_view.shape == (8, 2) and t1.shape == (3,)
    assert np.allclose(R1, R, atol=1e-6) and np.allclose(t1, t, atol=1e-6)


def test_undistort_points_inverts_the_lens():
    rng = np.random.default_rng(2)
    xy = rng.uniform(-0.5, 0.5, (200, 2))
    raw, _ = cv2.projectPoints(np.c_[xy, np.ones(200)], np.zeros(3), np.zeros(3), K, D)
    raw = raw.reshape(-1, 2)
    assert np.abs(cv_compat.undistort_points(raw, K, D, TIGHT) - xy).max() < 1e-8
    und_px = cv_compat.undistort_points(raw, K, D, TIGHT, P=K)
    assert np.abs(und_px - (xy * [K[0, 0], K[1, 1]] + K[:2, 2])).max() < 1e-5


def test_charuco_board_image_and_detection():
    spec = parse_board('charuco:7x5:0.04:0.03:DICT_5X5_100')
    board = spec.charuco_board()
    corners = cv_compat.charuco_corners(board)
    assert corners.shape == (24, 3) and np.allclose(corners[0], [0.04, 0.04, 0])
    px_per_m = 100 / 0.04  # 100 px squares
    img = cv_compat.charuco_image(board, (700, 500))
    assert img.shape == (500, 700) and img.dtype == np.uint8
    img = cv2.copyMakeBorder(img, 50, 50, 50, 50, cv2.BORDER_CONSTANT, value=255)
    found = cv_compat.CharucoFinder(board).find(img)
    assert found is not None
    pts, ids = found
    expect = corners[ids, :2] * px_per_m + 50 - 0.5  # pixel centres
    assert len(ids) >= 20 and np.abs(pts - expect).max() < 0.6


def test_chessboard_sharpness_grows_with_blur():
    sq = 24
    board = np.kron((np.indices((7, 10)).sum(axis=0) % 2).astype(np.float32),
                    np.ones((sq, sq), np.float32))
    img = cv2.copyMakeBorder(board * 200 + 30, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=230)
    widths = []
    for sigma in (0.7, 2.0):
        g = np.clip(cv2.GaussianBlur(img, (0, 0), sigma), 0, 255).astype(np.uint8)
        ok, c = cv2.findChessboardCornersSB(g, (9, 6))
        assert ok
        widths.append(cv_compat.chessboard_sharpness(g, (9, 6), c.reshape(-1, 2)))
    assert widths[0] < 3.0 < 4.5 < widths[1]  # 10-90 % rise of a Gaussian edge: about 2.6 sigma
