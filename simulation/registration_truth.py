"""The registration a perfect calibration of a simulated rig would produce.

For pipelines that need registered synthetic data but are not about
calibration (building the default model's segmentation set, measuring
flicker on a synthetic drive): the rig's true intrinsics and the true
plane homography at ``plane_distance``, with the crop the calibration
pipeline would choose (``calibration.crop.compute_crop``), so nothing here
depends on how well a board was detected.
"""
from __future__ import annotations

from ros2_ssvif.registration import Registration
from simulation.rig import Rig


def truth_registration(rig: Rig, plane_distance: float = 12.0,
                       output_size: tuple[int, int] | None = (640, 480)) -> Registration:
    """Registration from the rig's ground truth (homography exact at ``plane_distance`` metres)."""
    from calibration.crop import compute_crop

    vis, th = rig.visible.camera_info(), rig.thermal.camera_info()
    H = rig.plane_homography_thermal_to_visible(plane_distance)
    crop, size = compute_crop(vis, th, H, output_size)
    return Registration(vis, th, H, crop, size, {"source": "simulated rig ground truth",
                                                 "plane_distance_m": float(plane_distance)})
