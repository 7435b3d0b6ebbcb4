"""Synthetic calibration captures of a board, with ground truth.

Every raw pixel of each camera of the rig is cast as a few sub-pixel rays
through that camera's own distortion, intersected with the board plane and
looked up in a fine texture of the board, so the rendered corners sit where
the true projection puts them (to a small fraction of a pixel) and a
calibration has real distortion to recover. Visible frames are 8-bit RGB;
thermal frames are 16-bit raw counts with the board's polarity inverted
(a heated board: dark squares are warm), blurred and noisy like an
uncooled core.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from calibration.boards import BoardSpec, parse_board
from simulation.rig import PinholeCamera, Rig

TEXTURE_PX_PER_M = 4000.0  # 0.25 mm texels: far below a pixel at 1-3 m
SUPERSAMPLE = 3  # rays per pixel side


@dataclass
class BoardPose:
    """Board frame -> visible camera frame: X_v = R @ X_b + t (metres)."""

    R: np.ndarray
    t: np.ndarray

    def points_in_visible(self, pts_board: np.ndarray) -> np.ndarray:
        return np.asarray(pts_board, float).reshape(-1, 3) @ self.R.T + self.t


def board_texture(board: BoardSpec) -> tuple[np.ndarray, float]:
    """Reflectance image of the board (1 white, 0 black) incl. a white
    margin, and the margin in metres (texture origin = board origin - margin)."""
    s = board.spacing
    if board.kind == "charuco":
        margin = 0.5 * s
        w, h = board.board_extent()
        size = (int(round(w * TEXTURE_PX_PER_M)), int(round(h * TEXTURE_PX_PER_M)))
        img = board.charuco_board().generateImage(size, marginSize=0, borderBits=1).astype(np.float32) / 255.0
        mpx = int(round(margin * TEXTURE_PX_PER_M))
        tex = cv2.copyMakeBorder(img, mpx, mpx, mpx, mpx, cv2.BORDER_CONSTANT, value=1.0)
        # charuco's chessboard corner 0 is at (s, s) of the generated image;
        # getChessboardCorners uses the same origin as the image's top-left
        return tex, margin
    if board.kind == "chessboard":
        # object point (0,0) is the first inner corner, one square in
        margin = s  # white margin beyond the outer squares
        w, h = (board.cols + 1) * s, (board.rows + 1) * s
        W, Hh = w + 2 * margin, h + 2 * margin
        n = TEXTURE_PX_PER_M
        xs = (np.arange(int(round(W * n))) + 0.5) / n - margin - s
        ys = (np.arange(int(round(Hh * n))) + 0.5) / n - margin - s
        X, Y = np.meshgrid(xs, ys)
        inside = (X >= -s) & (X < w - s) & (Y >= -s) & (Y < h - s)
        black = ((np.floor(X / s) + np.floor(Y / s)) % 2 == 0) & inside
        return np.where(black, 0.0, 1.0).astype(np.float32), margin + s
    # circle grids: object point (0,0) is the first centre
    r = board.circle_radius
    margin = r + 0.5 * s
    pts = board.object_points()
    W, Hh = pts[:, 0].max() + 2 * margin, pts[:, 1].max() + 2 * margin
    n = TEXTURE_PX_PER_M
    tex = np.ones((int(round(Hh * n)), int(round(W * n))), np.float32)
    sh = 4  # cv2 drawing with 4 fractional bits, anti-aliased
    for x, y, _ in pts:
        c = (int(round((x + margin) * n * 16 - 8)), int(round((y + margin) * n * 16 - 8)))
        cv2.circle(tex, c, int(round(r * n * 16)), 0.0, -1, cv2.LINE_AA, sh)
    return tex, margin


@lru_cache(maxsize=4)
def _subpixel_rays(name, width, height, K_bytes, dist_bytes, ss):
    K = np.frombuffer(K_bytes).reshape(3, 3)
    dist = np.frombuffer(dist_bytes)
    off = (np.arange(ss) + 0.5) / ss - 0.5
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = []
    for oy in off:
        for ox in off:
            pts = np.stack([(u + ox).ravel(), (v + oy).ravel()], axis=1).reshape(-1, 1, 2)
            und = cv2.undistortPoints(pts, K, dist, criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10))
            rays.append(und.reshape(height, width, 2).astype(np.float32))
    return np.stack(rays)  # (ss*ss, H, W, 2)


def subpixel_rays(cam: PinholeCamera, ss: int = SUPERSAMPLE) -> np.ndarray:
    """Normalised undistorted ray (x, y) of ss*ss points in every raw pixel."""
    return _subpixel_rays(cam.name, cam.width, cam.height, cam.K.tobytes(),
                          np.asarray(cam.dist, float).tobytes(), ss)


def render_reflectance(cam: PinholeCamera, R: np.ndarray, t: np.ndarray, board: BoardSpec,
                       texture=None, background: float = 0.45) -> np.ndarray:
    """Fraction of white seen by each raw pixel; board pose board->camera."""
    tex, margin = texture if texture is not None else board_texture(board)
    rays = subpixel_rays(cam)
    n = R[:, 2]
    d0 = float(n @ t)
    acc = np.zeros((cam.height, cam.width), np.float32)
    for r in rays:
        x, y = r[..., 0], r[..., 1]
        denom = n[0] * x + n[1] * y + n[2]
        lam = np.where(np.abs(denom) > 1e-9, d0 / np.where(np.abs(denom) > 1e-9, denom, 1), -1)
        P = np.stack([lam * x - t[0], lam * y - t[1], lam - t[2]], axis=-1)
        bu = P @ R[:, 0]
        bv = P @ R[:, 1]
        mx = ((bu + margin) * TEXTURE_PX_PER_M - 0.5).astype(np.float32)
        my = ((bv + margin) * TEXTURE_PX_PER_M - 0.5).astype(np.float32)
        mx[lam <= 0] = -1e6
        acc += cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=float(background))
    return acc / len(rays)


def _random_pose(rng: np.random.Generator, rig: Rig, board: BoardSpec, dist_range, tries: int = 500):
    """A board pose seen whole by both cameras, spread over the image."""
    obj = board.object_points()
    centre = np.array([obj[:, 0].mean(), obj[:, 1].mean(), 0.0])
    lo, hi = obj[:, :2].min(0) - board.spacing, obj[:, :2].max(0) + board.spacing
    corners = np.array([[lo[0], lo[1], 0], [hi[0], lo[1], 0], [hi[0], hi[1], 0], [lo[0], hi[1], 0]])
    vis, th = rig.visible, rig.thermal
    for _ in range(tries):
        z = rng.uniform(*dist_range)
        # aim at a random image point so views cover the frame
        u, v = rng.uniform(0.12, 0.88) * vis.width, rng.uniform(0.12, 0.88) * vis.height
        ray = np.linalg.inv(vis.K) @ np.array([u, v, 1.0])
        c = ray * z
        ang = np.deg2rad(np.array([rng.uniform(-40, 40), rng.uniform(-40, 40), rng.uniform(-20, 20)]))
        R, _ = cv2.Rodrigues(ang)
        t = c - R @ centre
        pv = corners @ R.T + t
        if np.any(pv[:, 2] < 0.3):
            continue
        a = vis.project(pv)
        b = th.project(rig.to_thermal(pv))
        m = 8
        if (a.min() > m and a[:, 0].max() < vis.width - m and a[:, 1].max() < vis.height - m and
                b.min() > m and b[:, 0].max() < th.width - m and b[:, 1].max() < th.height - m):
            return BoardPose(R, t)
    raise RuntimeError(f"no pose keeps board {board} inside both images at {dist_range} m")


def render_board_captures(rig: Rig, board: BoardSpec | str, n_views: int, seed: int = 0,
                          dist_range=(1.0, 3.0), blur_sigma=(0.6, 1.0), noise=(1.5, 12.0)):
    """``n_views`` of (visible RGB uint8, thermal uint16, BoardPose)."""
    board = parse_board(board) if isinstance(board, str) else board
    rng = np.random.default_rng(seed)
    tex = board_texture(board)
    out = []
    for _ in range(n_views):
        pose = _random_pose(rng, rig, board, dist_range)
        refl_v = render_reflectance(rig.visible, pose.R, pose.t, board, tex, background=0.45)
        Rt = rig.R @ pose.R
        tt = rig.R @ pose.t + rig.t
        refl_t = render_reflectance(rig.thermal, Rt, tt, board, tex, background=1.35)  # cool surroundings
        vis = 30 + 200 * refl_v
        vis = cv2.GaussianBlur(vis, (0, 0), blur_sigma[0]) + rng.normal(0, noise[0], vis.shape)
        vis = np.clip(vis, 0, 255).astype(np.uint8)
        vis_rgb = np.stack([vis, vis, np.clip(vis.astype(int) + 5, 0, 255).astype(np.uint8)], axis=2)
        # heated board: dark (absorbing) squares are warmer, so bright in thermal
        temp = 7000 + 900 * (1.0 - refl_t) + 300 * np.linspace(0, 1, rig.thermal.width)[None, :]
        temp = cv2.GaussianBlur(temp.astype(np.float32), (0, 0), blur_sigma[1]) + rng.normal(0, noise[1], temp.shape)
        th = np.clip(temp, 0, 65535).astype(np.uint16)
        out.append((vis_rgb, th, pose))
    return out


def write_board_captures(out_dir: str | Path, rig: Rig, board: BoardSpec | str, n_views: int, seed: int = 0, **kw):
    """Write ``visible/view_XX.png`` (RGB saved as PNG) and ``thermal/view_XX.png``
    (16-bit); return the list of BoardPose."""
    out_dir = Path(out_dir)
    (out_dir / "visible").mkdir(parents=True, exist_ok=True)
    (out_dir / "thermal").mkdir(parents=True, exist_ok=True)
    poses = []
    for i, (v, t, pose) in enumerate(render_board_captures(rig, board, n_views, seed, **kw)):
        cv2.imwrite(str(out_dir / "visible" / f"view_{i:02d}.png"), cv2.cvtColor(v, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(out_dir / "thermal" / f"view_{i:02d}.png"), t)
        poses.append(pose)
    return poses
