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
Find a calibration board in one image, visible or thermal.

Thermal boards are blurry, low-contrast and of either polarity, so each
image is tried in several normalisations (see :mod:`calibration.normalize`)
until the board is found: chessboards with ``findChessboardCornersSB``,
circle grids with a blob detector tuned for soft blobs then refined by a
grey-level centroid, ChArUco in :mod:`calibration.charuco`. A view
without a board gives ``None``; callers report it and move on.
"""
from __future__ import annotations

from dataclasses import dataclass

from calibration.boards import BoardSpec
from calibration.charuco import detect_charuco
from calibration.cv_compat import chessboard_sharpness, ROBUST_HOMOGRAPHY
from calibration.normalize import candidates, to_gray
import cv2
import numpy as np


@dataclass
class Detection:
    """Board points found in one image (raw, distorted pixels)."""

    image_points: np.ndarray  # (N,2) float64
    ids: np.ndarray  # (N,) int: index into board.object_points()
    object_points: np.ndarray  # (N,3) float64, board frame
    image_size: tuple[int, int]  # (width, height)
    variant: str  # which normalisation found it
    sharpness: float | None = None  # chessboards: edge width in px (estimateChessboardSharpness)

    def __len__(self) -> int:
        return len(self.ids)


def _canonical_order(pts: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """
    Break the labelling ambiguity of symmetric grids the same way in every camera.

    The ambiguity: 180-degree turn, mirror, transpose for square grids. Broken
    the same way everywhere, joint views pair the same physical points: rows
    run rightwards and columns downwards in the image. Any of these labellings
    is a rigid motion of the planar board, so intrinsics are unaffected.
    """
    g = pts.reshape(rows, cols, 2)
    options = [g, g[::-1, ::-1], g[::-1, :], g[:, ::-1]]
    if rows == cols:
        options += [o.transpose(1, 0, 2) for o in options]

    def score(a):
        return (a[0, -1, 0] - a[0, 0, 0]) + (a[-1, 0, 1] - a[0, 0, 1])

    return max(options, key=score).reshape(-1, 2).copy()


def blob_detector(image_area: int, dark: bool = True) -> cv2.SimpleBlobDetector:
    """
    Build a blob detector for soft, large, possibly foreshortened thermal blobs.

    Fine threshold steps, loose shape filters, areas up to a tenth of the frame.
    """
    p = cv2.SimpleBlobDetector_Params()
    p.minThreshold, p.maxThreshold, p.thresholdStep = 10, 246, 8
    p.minRepeatability = 2
    p.minDistBetweenBlobs = 10
    p.filterByColor, p.blobColor = True, 0 if dark else 255
    p.filterByArea, p.minArea, p.maxArea = True, 12, max(100.0, 0.1 * image_area)
    p.filterByCircularity, p.minCircularity = True, 0.45
    p.filterByConvexity, p.minConvexity = True, 0.8
    p.filterByInertia, p.minInertiaRatio = True, 0.08
    return cv2.SimpleBlobDetector_create(p)


def refine_blob_centres(gray8: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """
    Grey-level centroid of each dark blob (fractional coverage weights).

    The blob detector's centres come from binarised shapes, a fraction of a
    pixel off on blurred edges; weighting every pixel by how dark it is
    between local background and blob level uses the whole soft edge.
    """
    g = gray8.astype(np.float32)
    out = centres.astype(np.float64).copy()
    if len(centres) < 2:
        return out
    d = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(d, np.inf)
    h, w = g.shape
    for k, (cx, cy) in enumerate(centres):
        half = int(np.ceil(d[k].min()))
        x0, x1 = max(0, int(cx) - half), min(w, int(cx) + half + 1)
        y0, y1 = max(0, int(cy) - half), min(h, int(cy) + half + 1)
        roi = g[y0:y1, x0:x1]
        fg, bg = np.percentile(roi, [3, 97])
        if bg - fg < 8:
            continue
        mask = (roi < 0.5 * (fg + bg)).astype(np.uint8)
        n, lab = cv2.connectedComponents(mask)
        ry, rx = int(round(cy)) - y0, int(round(cx)) - x0
        c = lab[ry, rx] if 0 <= ry < roi.shape[0] and 0 <= rx < roi.shape[1] else 0
        if c == 0:
            continue
        blob = (lab == c).astype(np.uint8)
        if blob[0].any() or blob[-1].any() or blob[:, 0].any() or blob[:, -1].any():
            continue  # blob touches the window: merged or cut, keep detector centre
        area = float(blob.sum())
        grow = int(np.ceil(2 + 0.15 * np.sqrt(area)))
        zone = cv2.dilate(blob,
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                    (2 * grow + 1, 2 * grow + 1)))
        wgt = np.clip((bg - roi) / (bg - fg), 0.0, 1.0) * zone
        s = wgt.sum()
        if s <= 0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        new = np.array([(wgt * xx).sum() / s, (wgt * yy).sum() / s])
        if np.linalg.norm(new - centres[k]) < 0.25 * d[k].min():
            out[k] = new
    return out


def grid_is_regular(pts: np.ndarray, cols: int, rows: int, tol: float = 0.18) -> bool:
    """
    Reject grids that took the board's border for a row of corners.

    Neighbouring steps along a row/column of a real grid change slowly
    (perspective and lens distortion are smooth), a border step does not.
    """
    g = pts.reshape(rows, cols, 2)
    for a in (g, g.transpose(1, 0, 2)):
        if a.shape[1] < 3:
            continue
        step = np.diff(a, axis=1)
        second = np.linalg.norm(np.diff(step, axis=1), axis=2)
        scale = np.linalg.norm(step, axis=2)
        if np.any(second > tol * np.minimum(scale[:, 1:], scale[:, :-1])):
            return False
    return True


def _find_sb(img: np.ndarray, board: BoardSpec, flags: int, upsample: int = 1):
    """
    Run ``findChessboardCornersSB`` on ``img``; corners in ``img``'s pixels or None.

    ``img`` is optionally upsampled: on small, blurred thermal boards the
    finder's fixed kernels miss corners that a 2x image shows.
    """
    src = img if upsample == 1 else cv2.resize(img, None, fx=upsample, fy=upsample,
                                               interpolation=cv2.INTER_CUBIC)
    ok, corners = cv2.findChessboardCornersSB(src, board.pattern_size, flags=flags)
    if not ok or corners is None or len(corners) != board.cols * board.rows:
        return None
    pts = corners.reshape(-1, 2).astype(np.float64)
    return (pts + 0.5) / upsample - 0.5  # pixel centres of the resized image


def _detect_chessboard(gray: np.ndarray, board: BoardSpec):
    # NORMALIZE_IMAGE makes SB lock onto a heated board's outline, so it is
    # only the last resort; corner accuracy comes from the refinement
    # (calibration.corner_refine), the finder only has to find the board
    variants = candidates(gray)
    acc = cv2.CALIB_CB_ACCURACY
    tries = [(acc, v, 1) for v in variants[::2]]
    tries += [(acc | cv2.CALIB_CB_EXHAUSTIVE, variants[2], 1), (0, variants[0], 2),
              (acc | cv2.CALIB_CB_NORMALIZE_IMAGE, variants[0], 1)]
    for flags, (name, img), up in tries:
        pts = _find_sb(img, board, flags, up)
        if pts is not None and grid_is_regular(pts, board.cols, board.rows):
            sharp = chessboard_sharpness(img, board.pattern_size, pts)
            name = name if up == 1 else f'{name}-x{up}'
            return name, _canonical_order(pts, board.cols, board.rows), sharp
    return None


def order_symmetric_grid(points: np.ndarray, cols: int, rows: int) -> np.ndarray | None:
    """
    Label exactly cols*rows blob centres as a symmetric grid, row-major.

    ``findCirclesGrid`` gives up when wide-angle distortion bends the rows;
    here the four hull corners fix a homography to the ideal grid, each
    hypothesis (start corner, direction) predicts every centre, and the one
    that matches all centres one-to-one with the least error wins.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) != cols * rows or cols < 2 or rows < 2:
        return None
    hull = cv2.convexHull(pts.astype(np.float32), returnPoints=False).ravel()
    if len(hull) < 4:
        return None
    hp = pts[hull]
    prev, nxt = np.roll(hp, 1, axis=0) - hp, np.roll(hp, -1, axis=0) - hp
    norms = np.linalg.norm(prev, axis=1) * np.linalg.norm(nxt, axis=1)
    cosang = (prev * nxt).sum(1) / (norms + 1e-12)
    corner_idx = np.sort(np.argsort(cosang)[-4:])  # sharpest turns: largest cos of inner angle
    corners = hp[corner_idx]
    ideal = np.array([[0, 0], [cols - 1, 0], [cols - 1, rows - 1], [0, rows - 1]], np.float64)
    gi, gj = np.meshgrid(np.arange(rows), np.arange(cols), indexing='ij')
    grid = np.stack([gj.ravel(), gi.ravel()], axis=1).astype(np.float64)
    best, best_err = None, np.inf
    for start in range(4):
        for direction in (1, -1):
            order = [(start + direction * k) % 4 for k in range(4)]
            H = cv2.getPerspectiveTransform(ideal.astype(np.float32),
                                            corners[order].astype(np.float32))
            pred = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), H).reshape(-1, 2)
            d = np.linalg.norm(pred[:, None] - pts[None], axis=2)
            match = d.argmin(axis=1)
            if len(set(match.tolist())) != len(pts):
                continue
            err = d[np.arange(len(pts)), match].max()
            if err < best_err:
                best, best_err = pts[match], err
    if best is None:
        return None
    spacing = np.median(np.linalg.norm(np.diff(best.reshape(rows, cols, 2), axis=1), axis=2))
    return best if best_err < 0.35 * spacing else None


def _largest_blobs(gray8: np.ndarray, det, n: int) -> np.ndarray | None:
    """Return the n largest blobs, if they stand clearly apart from the rest (speckle)."""
    kp = []
    for k in sorted(det.detect(gray8), key=lambda k: -k.size):
        # textured blobs split across thresholds: keep the biggest of overlapping ones
        if all(np.hypot(k.pt[0] - q.pt[0], k.pt[1] - q.pt[1]) > 0.5 * q.size for q in kp):
            kp.append(k)
    if len(kp) < n:
        return None
    if len(kp) > n and kp[n].size * 1.4 > kp[n - 1].size:
        return None
    return np.array([k.pt for k in kp[:n]], np.float64)


def _detect_circles(gray: np.ndarray, board: BoardSpec):
    det = blob_detector(gray.shape[0] * gray.shape[1])
    sym = board.kind == 'circles'
    grid = cv2.CALIB_CB_SYMMETRIC_GRID if sym else cv2.CALIB_CB_ASYMMETRIC_GRID
    n = board.cols * board.rows
    for name, img in candidates(gray):
        kp = det.detect(img)
        # the grid search explodes combinatorially on speckle: only give it
        # images whose blob count is plausible
        if not n <= len(kp) <= 6 * n + 24:
            continue
        for extra in (0, cv2.CALIB_CB_CLUSTERING):
            ok, centres = cv2.findCirclesGrid(img, board.pattern_size, flags=grid | extra,
                                              blobDetector=det)
            if ok and centres is not None and len(centres) == n:
                pts = refine_blob_centres(img, centres.reshape(-1, 2))
                if sym:
                    pts = _canonical_order(pts, board.cols, board.rows)
                return name, pts
        if sym:  # distorted rows: label the blobs ourselves
            blobs = _largest_blobs(img, det, n)
            pts = None if blobs is None else order_symmetric_grid(blobs, board.cols, board.rows)
            if pts is not None:
                pts = refine_blob_centres(img, pts)
                return name + '+hull', _canonical_order(pts, board.cols, board.rows)
    return None


def detect_board(image: np.ndarray, board: BoardSpec) -> Detection | None:
    """Board points in ``image`` (any depth, colour RGB or grey), or None."""
    gray = to_gray(image)
    size = (gray.shape[1], gray.shape[0])
    objp = board.object_points()
    sharp = None
    if board.kind == 'chessboard':
        found = _detect_chessboard(gray, board)
        if found is not None:
            found, sharp = found[:2], found[2]
    elif board.kind in ('circles', 'acircles'):
        found = _detect_circles(gray, board)
    else:
        found = detect_charuco(gray, board)
        if found is None:
            return None
        name, pts, ids = found
        return Detection(pts, ids, objp[ids], size, name)
    if found is None:
        return None
    name, pts = found
    keep = consistent_points(objp, pts)
    if keep.sum() < max(4, 0.75 * len(pts)):
        return None
    ids = np.flatnonzero(keep)
    return Detection(pts[keep], ids, objp[keep], size, name, sharp)


def consistent_points(objp: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """
    Mask of points that agree with a board-to-image homography.

    A blob merged with the board edge or a speck can shift one centre by
    several pixels; lens distortion bends the grid smoothly, so a point far
    off the common homography (relative to the typical residual) is dropped
    rather than spoiling the view.
    """
    H, _ = cv2.findHomography(objp[:, :2], pts, ROBUST_HOMOGRAPHY, 3.0)
    if H is None:
        return np.ones(len(pts), bool)
    pred = cv2.perspectiveTransform(objp[:, :2].reshape(-1, 1, 2), H).reshape(-1, 2)
    res = np.linalg.norm(pred - pts, axis=1)
    spacing = np.median(np.linalg.norm(np.diff(pts, axis=0), axis=1))
    return res <= max(4.0 * np.median(res) + 1.5, 0.2 * spacing)
