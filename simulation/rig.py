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
Camera models of the synthetic rig, with known ground truth.

Conventions are OpenCV's: a camera looks down +Z, x right, y down; the
thermal pose is the transform of points from the visible camera frame to
the thermal camera frame, ``X_t = R @ X_v + t`` (as ``cv2.stereoCalibrate``
returns it). Distortion is plumb_bob (k1, k2, p1, p2, k3).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from calibration.cv_compat import undistort_points
import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo


@dataclass
class PinholeCamera:
    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def camera_info(self) -> CameraInfo:
        return CameraInfo(self.name, self.width, self.height, self.K, np.asarray(self.dist, float))

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """3-D points in this camera's frame (N,3) -> raw distorted pixels (N,2)."""
        pts = np.asarray(points_cam, dtype=np.float64).reshape(-1, 1, 3)
        out, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), self.K,
                                   np.asarray(self.dist, float))
        return out.reshape(-1, 2)

    def pixel_rays(self) -> np.ndarray:
        """
        Unit-depth ray (x, y, 1) through the centre of every raw pixel, (H,W,3).

        Rendering casts these rays, so the image carries this camera's real
        distortion and a calibration has something to estimate.
        """
        u, v = np.meshgrid(np.arange(self.width, dtype=np.float64),
                           np.arange(self.height, dtype=np.float64))
        pts = np.stack([u.ravel(), v.ravel()], axis=1)
        und = undistort_points(pts, self.K, np.asarray(self.dist, float),
                               (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10),
                               ).reshape(self.height, self.width, 2)
        return np.concatenate([und, np.ones((self.height, self.width, 1))], axis=2)


@dataclass
class Rig:
    """A visible and a thermal camera rigidly mounted together."""

    visible: PinholeCamera
    thermal: PinholeCamera
    R: np.ndarray  # 3x3, visible -> thermal
    t: np.ndarray  # 3, metres, visible -> thermal
    mount_height: float = 1.6  # metres above the road, visible camera
    mount_pitch_deg: float = 2.0  # downward tilt of the visible camera

    def to_thermal(self, points_vis: np.ndarray) -> np.ndarray:
        return np.asarray(points_vis, float).reshape(-1, 3) @ self.R.T + self.t

    def plane_homography_thermal_to_visible(self, distance: float) -> np.ndarray:
        """
        Return the ground-truth homography (undistorted pixels) for a plane.

        The plane is fronto-parallel, ``Z = distance`` in the visible camera frame;
        ``inf`` gives the rotation-only homography.
        """
        n = np.array([0.0, 0.0, 1.0])
        if np.isinf(distance):
            H_vt = self.thermal.K @ self.R @ np.linalg.inv(self.visible.K)
        else:
            plane = self.R + np.outer(self.t, n) / distance
            H_vt = self.thermal.K @ plane @ np.linalg.inv(self.visible.K)
        H = np.linalg.inv(H_vt)
        return H / H[2, 2]


def default_rig() -> Rig:
    """
    Return a roof rig like FMB's: 640x480 visible, 640x512 uncooled LWIR core.

    The thermal camera has a narrower field of view, stronger barrel
    distortion, a 12 cm baseline and a small mounting rotation.
    """
    visible = PinholeCamera('visible', 640, 480, 520.0, 521.5, 322.4, 238.1,
                            np.array([-0.12, 0.05, 0.0008, -0.0005, 0.0]))
    thermal = PinholeCamera('thermal', 640, 512, 560.0, 559.0, 318.7, 258.9,
                            np.array([-0.28, 0.11, -0.0006, 0.0009, 0.0]))
    R, _ = cv2.Rodrigues(np.deg2rad(np.array([0.6, -0.9, 0.4])))
    t = np.array([-0.12, 0.015, 0.004])
    return Rig(visible, thermal, R, t)


def blurred_thermal_rig() -> Rig:
    """
    Return the rig of issue 11.

    An 800x600 visible camera and a 640x512 LWIR core with its own focal
    length, stronger barrel distortion, an 8 cm baseline with a 2 mm forward
    (z) component and a small mounting rotation. Its board captures carry the
    blur of real thermal optics (see :mod:`simulation.sensors`).
    """
    visible = PinholeCamera('visible', 800, 600, 720.0, 721.8, 403.1, 296.4,
                            np.array([-0.11, 0.06, 0.0005, -0.0007, 0.0]))
    thermal = PinholeCamera('thermal', 640, 512, 540.0, 538.6, 316.2, 260.3,
                            np.array([-0.31, 0.13, 0.0008, -0.0006, 0.0]))
    R, _ = cv2.Rodrigues(np.deg2rad(np.array([0.4, -0.7, 0.25])))
    t = np.array([-0.078, 0.011, 0.002])
    return Rig(visible, thermal, R, t)
