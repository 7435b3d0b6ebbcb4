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
Blur-robust chessboard corners, re-measured in fronto-parallel unwarps.

Why: ``findChessboardCornersSB`` places corners on blurred thermal boards
with an error that follows the board's tilt, not noise: on the
blurred-thermal rig (:func:`simulation.rig.blurred_thermal_rig`, 16-bit,
inverted, 20 views) its corners are 0.06-0.25 px off (median; p95 0.4-0.9
px) and the thermal focal length comes out up to 1.4 % long
(``CALIB_CB_ACCURACY`` halves that, no more). ``cornerSubPix`` in the raw
image removes most of it, but its window must stay inside the smallest,
most foreshortened square, so it either sees too few pixels (blur wins) or
reaches the neighbouring corners on tilted views (a view can go wrong by a
pixel).

How: after a first calibration, a window of the board plane around every
corner is resampled through the view's pose and the lens model, so the
squares are square and the edges straight again; a blurred X-junction is
point-symmetric about its centre, an affine map keeps that, so the
gradient-orthogonality fit of ``cornerSubPix`` is unbiased there and its
window can span 0.6 of a square on every view. The corner found in the
window is mapped back through the same model; as in the circle path
(:mod:`calibration.refine`), a model error moves the window, not the
answer, and two rounds of refine/re-calibrate converge.

Measured (issue 11's rig, :mod:`simulation.blurred_rig`: 20 views at
0.7-1.8 m, 16-bit inverted, seeds 21/22/23; thermal fx error and held-out
RMS in px on views left out of the fit; the unwarp rows run the whole
refine/re-calibrate loop of :mod:`calibration.refine` to convergence):

| corners | s=1.1: fx error % | held-out px | s=2.0: fx error % | held-out px |
|---|---|---|---|---|
| SB, flags 0 (plain OpenCV) | +1.35/+0.60/-0.20 | .48/.22/.17 | +1.21/+0.66/+1.13 | .27/.28/.30 |
| SB + ACCURACY (finder here) | +0.39/+0.23/-0.15 | .15/.15/.14 | +0.69/+0.49/+0.84 | .21/.19/.22 |
| SB + raw subpix, 0.5 sq. | +0.57/-0.01/-0.01 | .45/.05/.05 | +0.07/+0.06/-0.06 | .07/.08/.12 |
| unwarp, 0.5 square | +0.00/-0.01/-0.01 | .053/.042/.046 | -0.01/-0.00/-0.03 | .067/.059/.061 |
| **unwarp, 0.6 sq.** | -0.02/-0.00/-0.02 | .050/.041/.044 | -0.03/+0.01/-0.04 | .065/.060/.059 |
| unwarp, 0.7 square | -0.01/+0.01/-0.01 | .048/.041/.043 | -0.04/+0.01/-0.03 | .070/.066/.066 |

(the first and third rows: 4-fold held-out, one refinement round.) The
0.6-square window has the lowest held-out error on average (0.053 px
against 0.055 for 0.5 and 0.056 for 0.7 squares): 0.7 wins at the smaller
blur but reaches the next edges at the larger one. 8-bit counts and normal
polarity behave the same (``test/test_calibration_corner_bias.py``). Whether
a camera keeps the refined corners is decided again in every calibration by
held-out error (:func:`calibration.refine.refine_and_calibrate`).
"""
from __future__ import annotations

from dataclasses import replace

from calibration.boards import BoardSpec
from calibration.detect import Detection
import cv2
import numpy as np


WINDOW_SQUARES = 0.6  # half-width of the cornerSubPix window, in squares
PX_PER_SQUARE = 32  # sampling of the unwarped board plane
CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-4)


def refine_corner_view(gray: np.ndarray, det: Detection, board: BoardSpec, K, D, rvec, tvec,
                       window: float = WINDOW_SQUARES,
                       px_per_square: int = PX_PER_SQUARE) -> Detection:
    """
    Re-measure every detected corner of one view in its fronto-parallel unwarp.

    A corner whose window leaves the image, or whose fit wanders more than a
    quarter square from where the model put the window, keeps its first position.
    """
    scale = px_per_square / board.spacing  # unwarp px per metre
    half = int(np.ceil(window * px_per_square)) + 3  # room for the fit to move
    off = np.arange(-half, half + 1) / scale
    ox, oy = np.meshgrid(off, off)
    img = gray.astype(np.float32)
    h, w = img.shape
    hw = int(round(window * px_per_square))
    pts = det.image_points.copy()
    start = np.array([[[half, half]]], np.float32)
    for k, (X, Y, _) in enumerate(det.object_points):
        grid = np.stack([X + ox.ravel(), Y + oy.ravel(), np.zeros(ox.size)], axis=1)
        uv, _ = cv2.projectPoints(grid, rvec, tvec, K, D)
        m = uv.reshape(ox.shape + (2,)).astype(np.float32)
        if (m[..., 0].min() < 0 or m[..., 1].min() < 0 or m[..., 0].max() > w - 1
                or m[..., 1].max() > h - 1):
            continue
        win = cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR)
        got = cv2.cornerSubPix(win, start.copy(), (hw, hw), (-1, -1), CRITERIA).reshape(2)
        d = (got - half) / scale
        if not np.all(np.isfinite(d)) or np.hypot(*d) > 0.25 * board.spacing:
            continue
        q, _ = cv2.projectPoints(np.array([[X + d[0], Y + d[1], 0.0]]), rvec, tvec, K, D)
        pts[k] = q.reshape(2)
    return replace(det, image_points=pts, variant=det.variant + '+unwarped')
