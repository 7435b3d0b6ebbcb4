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
Issue 11's calibration scenario: blurred thermal boards, with ground truth.

The rig (:func:`simulation.rig.blurred_thermal_rig`) sees a 9x6 chessboard
of 6 cm squares in 20 joint views at 0.7-1.8 m, tilted up to 45 degrees;
the thermal frames are 16-bit raw counts (or 8-bit AGC), inverted polarity
(a heated board), with a Gaussian optics blur of 0.8-2 px on the counts.
The registration is judged where it is used: on a far wall, the plane 15 m
ahead, by the true projection of its points into both cameras. Tests and
measurements share these helpers so they judge the same thing.
"""
from __future__ import annotations

from calibration.cv_compat import undistort_points
import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo
from ros2_ssvif.registration import apply_homography, undistort_pixels
from simulation.boards import apply_sensors, BoardView, render_board_views
from simulation.rig import blurred_thermal_rig, Rig
from simulation.sensors import ThermalSensor


BOARD = 'chessboard:9x6:0.06'
N_VIEWS = 20
DIST_RANGE = (0.7, 1.8)  # metres: the board fills much of each frame
MAX_TILT_DEG = 45.0
PLANE_DISTANCE = 15.0  # the working plane (a far wall)
FAR_BOARD = 'chessboard:9x6:0.5'  # a board large enough to be measured at 15 m
_TIGHT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 60, 1e-12)


def blurred_views(seed: int = 21, n_views: int = N_VIEWS,
                  rig: Rig | None = None) -> list[BoardView]:
    """Return the joint views' poses and reflectances (render once, sense many times)."""
    return render_board_views(rig or blurred_thermal_rig(), BOARD, n_views, seed, DIST_RANGE,
                              max_tilt_deg=MAX_TILT_DEG)


def blurred_pairs(views: list[BoardView], sigma: float, bits: int = 16, polarity: str = 'inverted',
                  seed: int = 3) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, visible RGB, thermal counts) of ``views`` through a thermal blur ``sigma`` (px)."""
    caps = apply_sensors(views, seed, thermal=ThermalSensor(sigma, bits=bits, polarity=polarity))
    return [(f'view_{i:02d}', v, t) for i, (v, t, _) in enumerate(caps)]


def far_board_pair(rig: Rig | None = None, sigma: float = 1.1, seed: int = 5,
                   distance: float = PLANE_DISTANCE):
    """(visible, thermal, BoardPose) of ``FAR_BOARD`` near ``distance``, nearly facing the rig."""
    rig = rig or blurred_thermal_rig()
    views = render_board_views(rig, FAR_BOARD, 1, seed, (0.99 * distance, 1.01 * distance),
                               max_tilt_deg=10.0)
    return apply_sensors(views, seed, thermal=ThermalSensor(sigma))[0]


def plane_misalignment(rig: Rig, visible: CameraInfo, thermal: CameraInfo, H: np.ndarray,
                       distance: float = PLANE_DISTANCE, n: int = 40) -> np.ndarray:
    """
    Measure the registration error (undistorted visible px) on the plane ``Z = distance``.

    Points on the plane ``Z = distance`` (visible frame), on an n x 0.75n grid
    over the visible image, where the estimated calibration (``visible``,
    ``thermal``, the thermal->visible homography ``H``) maps the true thermal
    image of each point away from its true visible image.
    """
    u, v = np.meshgrid(np.linspace(10, rig.visible.width - 10, n),
                       np.linspace(10, rig.visible.height - 10, int(0.75 * n)))
    pv = np.c_[u.ravel(), v.ravel()]
    ray = undistort_points(pv, rig.visible.K, rig.visible.dist, _TIGHT)
    pt = rig.thermal.project(rig.to_thermal(np.c_[ray, np.ones(len(ray))] * distance))
    w, h = rig.thermal.width, rig.thermal.height
    ok = (pt[:, 0] > 0) & (pt[:, 0] < w - 1) & (pt[:, 1] > 0) & (pt[:, 1] < h - 1)
    a = undistort_pixels(pv[ok], visible)
    b = apply_homography(H, undistort_pixels(pt[ok], thermal))
    return np.linalg.norm(a - b, axis=1)
