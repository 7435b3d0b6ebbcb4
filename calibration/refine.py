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
Iterative refinement of circle-grid centres (after Datta et al., 2009).

The image of a circle is an ellipse whose centroid is *not* the image of the
circle's centre under perspective, and wide-angle distortion bends it
further, so blob centroids are biased by up to a pixel on near, tilted
boards. After a first calibration each view's board is unwarped to a
fronto-parallel image through the estimated pose and lens model; there the
circles are circles again and their grey-level centroid is unbiased. The
centres are mapped back through the same model and the camera re-calibrated;
two or three rounds converge. Chessboard corners go through the same loop,
re-measured by :mod:`calibration.corner_refine` (blur, not geometry, biases
them). Either kind of refinement is kept only where it lowers the error on
views left out of the fit.
"""
from __future__ import annotations

from dataclasses import replace

from calibration.boards import BoardSpec
from calibration.corner_refine import refine_corner_view
from calibration.detect import Detection
from calibration.intrinsics import calibrate_intrinsics, IntrinsicsResult
from calibration.normalize import to_gray
import cv2
import numpy as np


REFINABLE = ('circles', 'acircles', 'chessboard')


def _circle_geometry(board: BoardSpec) -> tuple[float, float, float]:
    """
    Return the radius, the outer edge of the background ring and the neighbour distance.

    The nearest-neighbour distance (metres): the ring must stop before the
    neighbouring circle.
    """
    obj = board.object_points()[:, :2]
    d = np.linalg.norm(obj[:, None] - obj[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nn = float(d.min())
    r = board.circle_radius
    return r, min(1.5 * r, nn - 1.1 * r), nn


def _centre_in_window(win: np.ndarray, r_px: float, ring_out: float):
    """
    Measure the centre of the circle in a fronto-parallel window, and its area ratio.

    The centre is the coverage-weighted centroid against a planar background
    fitted on a ring around it; the ratio is the circle's apparent area over
    the expected one. None where the circle itself leaves the image or shows no
    contrast.
    """
    n = win.shape[0]
    c = (n - 1) / 2.0
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    valid = win >= 0  # the remap marks pixels outside the image with -1
    centre = np.array([c, c])
    for _ in range(3):
        rr = np.hypot(xx - centre[0], yy - centre[1])
        if not valid[rr < 1.15 * r_px].all():
            return None
        ring = (rr > 1.15 * r_px) & (rr < ring_out) & valid
        inner = rr < 0.7 * r_px
        if ring.sum() < 20:
            return None
        A = np.c_[xx[ring], yy[ring], np.ones(ring.sum())]
        coef, *_ = np.linalg.lstsq(A, win[ring], rcond=None)
        bg = coef[0] * xx + coef[1] * yy + coef[2]
        fg = float(np.median(win[inner] - bg[inner]))  # signed: either polarity
        if abs(fg) < 4 * max(np.std(win[ring] - bg[ring]), 1e-6):
            return None
        w = np.clip((win - bg) / fg, 0.0, 1.0) * ((rr < 0.5 * (1.15 * r_px + ring_out)) & valid)
        s = w.sum()
        if s <= 0:
            return None
        centre = np.array([(w * xx).sum() / s, (w * yy).sum() / s])
    return centre - c, float(s / (np.pi * r_px ** 2))


def _raw_radius_px(det: Detection, board: BoardSpec) -> float:
    """Largest apparent circle radius in the raw image (from neighbour steps)."""
    o, p = det.object_points[:, :2], det.image_points
    d_obj = np.linalg.norm(o[:, None] - o[None], axis=2)
    d_img = np.linalg.norm(p[:, None] - p[None], axis=2)
    near = (d_obj > 0) & (d_obj < 1.01 * d_obj[d_obj > 0].min())
    return float((d_img[near] / d_obj[near]).max() * board.circle_radius) if near.any() else 20.0


def refine_view(gray: np.ndarray, det: Detection, board: BoardSpec, K, D, rvec, tvec,
                px_per_radius: float | None = None) -> Detection:
    """
    Re-measure every circle of one view in its fronto-parallel unwarp.

    A circle is kept when its unwarped image looks like a whole circle (area
    within 15 % of the expected one), so circles the first detection missed
    are added and half-occluded ones dropped; one that cannot be measured
    (off the image, no contrast) keeps its first position.
    """
    r, ring_out_m, _ = _circle_geometry(board)
    if ring_out_m < 1.25 * r:
        return det  # circles too close for a background ring
    if px_per_radius is None:  # sample at least as finely as the nearest raw circle
        px_per_radius = float(np.clip(_raw_radius_px(det, board), 12.0, 24.0))
    scale = px_per_radius / r  # rectified px per metre
    half = int(np.ceil(ring_out_m * scale)) + 1
    off = np.arange(-half, half + 1) / scale
    ox, oy = np.meshgrid(off, off)
    img = gray.astype(np.float32)
    objp = board.object_points()
    old = dict(zip(det.ids.tolist(), det.image_points))
    ids, pts = [], []
    for k, (X, Y, _) in enumerate(objp):
        grid = np.stack([X + ox.ravel(), Y + oy.ravel(), np.zeros(ox.size)], axis=1)
        uv, _ = cv2.projectPoints(grid, rvec, tvec, K, D)
        m = uv.reshape(ox.shape + (2,)).astype(np.float32)
        win = cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=-1)
        got = _centre_in_window(win.astype(np.float64), px_per_radius, ring_out_m * scale)
        new = None
        if got is not None and 0.85 < got[1] < 1.15 and np.hypot(*got[0]) < 0.3 * px_per_radius:
            b = np.array([[X + got[0][0] / scale, Y + got[0][1] / scale, 0.0]])
            new = cv2.projectPoints(b, rvec, tvec, K, D)[0].reshape(2)
        if got is None and k in old:  # not measurable here: keep the blob centre
            new = old[k]
        if new is not None:
            ids.append(k)
            pts.append(new)
    ids = np.asarray(ids, int)
    return replace(det, image_points=np.asarray(pts, np.float64).reshape(-1, 2), ids=ids,
                   object_points=objp[ids], variant=det.variant + '+refined')


def _pose(det: Detection, K, D):
    ok, rv, tv = cv2.solvePnP(det.object_points, det.image_points, K, D,
                              flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    return cv2.solvePnPRefineLM(det.object_points, det.image_points, K, D, rv, tv)


def _refine(gray, det, board, K, D, rv, tv) -> Detection:
    if board.kind == 'chessboard':
        return refine_corner_view(gray, det, board, K, D, rv, tv)
    return refine_view(gray, det, board, K, D, rv, tv)


def refine_points(image: np.ndarray, det: Detection, board: BoardSpec, K, D) -> Detection:
    """
    Re-measure one view's points through a known lens model (its pose from PnP).

    Boards that cannot be refined, or a failed pose, keep their points.
    """
    pose = _pose(det, K, D) if board.kind in REFINABLE else None
    return det if pose is None else _refine(to_gray(image), det, board, K, D, *pose)


def refine_and_calibrate(detections: dict[str, Detection], images: dict[str, np.ndarray],
                         board: BoardSpec | dict[str, BoardSpec], camera_name: str = 'camera',
                         iterations: int = 10, tol_px: float = 0.01,
                         **kw) -> tuple[IntrinsicsResult, dict[str, Detection]]:
    """
    Calibrate, then alternate point refinement and re-calibration.

    ``board`` is the board of every view, or a board per view name (a
    camera's own intrinsic board and the joint board). Views whose board
    cannot be refined, or without an image in ``images``, keep their points.
    Returns the final result (its ``refinement`` lists the RMS of every
    round, the first being the unrefined one; rounds stop when no point
    moves by ``tol_px``) and the detections the joint pose should use.
    Views rejected in one round are refined as well (their pose comes from
    PnP) and get a second chance. The refined points are
    kept only where they predict views left out of the fit better than the
    detector's points (``IntrinsicsResult.points_heldout``); otherwise the
    first calibration and the detector's points are returned.
    """
    boards = board if isinstance(board, dict) else dict.fromkeys(detections, board)
    res = calibrate_intrinsics(detections, camera_name, **kw)
    history = [res.rms]
    todo = [n for n in detections if boards[n].kind in REFINABLE and n in images]
    if not todo or iterations < 1:
        return res, detections
    grays = {n: to_gray(images[n]) for n in todo}
    first, current = res, dict(detections)
    for _ in range(iterations):
        K, D = res.camera_info.camera_matrix, res.camera_info.distortion_coefficients
        moved = 0.0
        current = dict(current)
        for n in todo:
            pose = _pose(current[n], K, D)
            if pose is None:
                continue
            new = _refine(grays[n], detections[n], boards[n], K, D, *pose)
            common, a, b = np.intersect1d(current[n].ids, new.ids, return_indices=True)
            if len(common):
                moved = max(moved,
                            float(np.abs(current[n].image_points[a] - new.image_points[b]).max()))
            current[n] = new
        res = calibrate_intrinsics(current, camera_name, **kw)
        history.append(res.rms)
        if moved < tol_px:
            break
    before, after = first.heldout[first.model], res.heldout[res.model]
    scores = {'detector': before, 'refined': after, 'rounds': len(history) - 1}
    if np.isfinite(before) and np.isfinite(after) and after > before:  # unknown: keep refining
        first.refinement, first.points_heldout = history, {**scores, 'kept': 'detector'}
        return first, detections
    res.refinement, res.points_heldout = history, {**scores, 'kept': 'refined'}
    return res, current
