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
The registration a perfect calibration of a simulated rig would produce.

For pipelines that need registered synthetic data but are not about
calibration (building the default model's segmentation set, measuring
flicker on a synthetic drive): the rig's true intrinsics and the true
plane homography at ``plane_distance``, with the crop the calibration
pipeline would choose (``calibration.crop.compute_crop``), so nothing here
depends on how well a board was detected.
"""
from __future__ import annotations

import numpy as np
from ros2_ssvif.registration import apply_homography, distort_pixels, Registration
from simulation.rig import Rig


def truth_registration(rig: Rig, plane_distance: float = 12.0,
                       output_size: tuple[int, int] | None = (640, 480)) -> Registration:
    """Registration from the rig's ground truth (homography exact at ``plane_distance`` metres)."""
    from calibration.crop import compute_crop

    vis, th = rig.visible.camera_info(), rig.thermal.camera_info()
    H = rig.plane_homography_thermal_to_visible(plane_distance)
    crop, size = compute_crop(vis, th, H, output_size)
    return Registration(vis, th, H, crop, size, {'source': 'simulated rig ground truth',
                                                 'plane_distance_m': float(plane_distance)})


def bump_in_output(registration: Registration, bump_px: tuple[float, float],
                   grid: int = 9) -> tuple[float, float]:
    """
    Where a thermal camera knocked by ``bump_px`` raw pixels moves thermal in the output.

    The mean over a ``grid`` x ``grid`` raster of the registered image of
    f(p + bump) - f(p), f the raw thermal -> output mapping (distortion,
    homography, crop and resize): what a registration monitor should report
    on top of the registration's own residual.
    """
    ow, oh = registration.output_size
    u, v = np.meshgrid(np.linspace(0.1, 0.9, grid) * ow, np.linspace(0.1, 0.9, grid) * oh)
    out = np.c_[u.ravel(), v.ravel()]
    # output -> raw thermal: invert through the remap geometry
    vis_und = registration.output_to_visible_undistorted(out)
    th_und = apply_homography(np.linalg.inv(registration.homography), vis_und)
    raw = distort_pixels(th_und, registration.thermal)
    moved = registration.thermal_raw_to_output(raw + np.asarray(bump_px, float))
    d = (moved - registration.thermal_raw_to_output(raw)).mean(axis=0)
    return float(d[0]), float(d[1])
