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
The crop of the registered pair and the default output size.

The largest axis-aligned rectangle of undistorted visible pixels that both
cameras really see, shrunk to the requested output aspect, plus the default
output size.
"""
from __future__ import annotations

from calibration.errors import CalibrationError
import numpy as np
from ros2_ssvif.camera_info import CameraInfo
from ros2_ssvif.registration import apply_homography, distort_pixels


def _inside_raw(p_und: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """
    Undistorted pixels whose raw position lies inside the sensor.

    Far outside the field of view polynomial distortion folds back into the
    image, so points beyond the undistorted radius of the sensor corners
    are invalid whatever the polynomial says.
    """
    K = cam.camera_matrix
    n = (p_und - K[:2, 2]) / np.diag(K)[:2]
    w, h = cam.width - 1, cam.height - 1
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float)
    from ros2_ssvif.registration import undistort_pixels
    cn = (undistort_pixels(corners, cam) - K[:2, 2]) / np.diag(K)[:2]
    rmax = np.linalg.norm(cn, axis=1).max() * 1.02
    raw = distort_pixels(p_und, cam)
    ok = (raw[:, 0] >= 0) & (raw[:, 0] <= w) & (raw[:, 1] >= 0) & (raw[:, 1] <= h)
    return ok & (np.linalg.norm(n, axis=1) <= rmax) & np.all(np.isfinite(raw), axis=1)


def valid_mask(vis: CameraInfo, th: CameraInfo, H: np.ndarray, step: int = 2) -> np.ndarray:
    """Boolean mask over the visible image (every ``step`` px) valid in both."""
    u, v = np.meshgrid(np.arange(0, vis.width, step, dtype=float),
                       np.arange(0, vis.height, step, dtype=float))
    p = np.c_[u.ravel(), v.ravel()]
    ok = _inside_raw(p, vis)
    q = apply_homography(np.linalg.inv(H), p)
    ok &= _inside_raw(q, th)
    return ok.reshape(u.shape)


def largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int]:
    """
    Find the largest all-True axis-aligned rectangle (x, y, w, h) in cells.

    By the row-histogram / stack method (O(rows*cols)).
    """
    rows, cols = mask.shape
    heights = np.zeros(cols, int)
    best = (0, 0, 0, 0, 0)
    for r in range(rows):
        heights = np.where(mask[r], heights + 1, 0)
        stack: list[int] = []
        for c in range(cols + 1):
            h = heights[c] if c < cols else 0
            while stack and heights[stack[-1]] >= h:
                top = stack.pop()
                height = heights[top]
                left = stack[-1] + 1 if stack else 0
                area = height * (c - left)
                if area > best[0]:
                    best = (area, left, r - height + 1, c - left, height)
            stack.append(c)
    return best[1:]


def compute_crop(vis: CameraInfo, th: CameraInfo, H: np.ndarray, output_size=None, step: int = 2):
    """(crop (x, y, w, h) in undistorted visible px, output (w, h))."""
    mask = valid_mask(vis, th, H, step)
    x, y, w, h = largest_rectangle(mask)
    if w * h == 0:
        raise CalibrationError('the cameras share no field of view under this homography')
    # cells are ``step`` px apart: the rectangle spans from first to last valid sample
    x, y, w, h = x * step, y * step, (w - 1) * step + 1, (h - 1) * step + 1
    if w < 16 or h < 16:
        raise CalibrationError(f'the common field of view is only {w}x{h} px')
    if output_size is None:
        return (float(x), float(y), float(w), float(h)), (int(w), int(h))
    ow, oh = output_size
    aspect = ow / oh
    cx, cy = x + w / 2, y + h / 2
    if w / h > aspect:
        w = h * aspect
    else:
        h = w / aspect
    return (float(cx - w / 2), float(cy - h / 2), float(w), float(h)), (int(ow), int(oh))
