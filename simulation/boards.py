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
Synthetic calibration captures of a board, with ground truth.

Every raw pixel of each camera of the rig is cast as a few sub-pixel rays
through that camera's own distortion, intersected with the board plane and
looked up in a fine texture of the board, so the rendered corners sit where
the true projection puts them (to a small fraction of a pixel) and a
calibration has real distortion to recover. What each sensor makes of that
light is :mod:`simulation.sensors`: visible frames are 8-bit RGB, thermal
frames 16-bit raw counts (or 8-bit AGC output) of either polarity, blurred
by the optics and noisy like an uncooled core.

Views can be rendered for both cameras (joint views) or for one camera only
(FMB's per-sensor intrinsic captures, each on its own board); the
reflectance of a view is kept apart from the sensor so the same poses can
be seen through several blurs (``render_board_views`` + ``apply_sensors``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from calibration.boards import BoardSpec, parse_board
from calibration.cv_compat import charuco_image, undistort_points
import cv2
import numpy as np
from simulation.rig import PinholeCamera, Rig
from simulation.sensors import ThermalSensor, VisibleSensor


TEXTURE_PX_PER_M = 4000.0  # 0.25 mm texels: far below a pixel at 1-3 m
SUPERSAMPLE = 3  # rays per pixel side
CAMERAS = ('visible', 'thermal')


class BoardTexture(NamedTuple):
    """Reflectance image of a board; texel (0, 0) sits at board (-margin, -margin)."""

    image: np.ndarray
    margin: float  # metres
    px_per_m: float


def texels_per_metre(board: BoardSpec) -> float:
    """
    Return the texture resolution: 0.25 mm texels up to 10 cm squares.

    Coarser for large (far) boards, whose texture would not fit in memory
    otherwise (still 400 texels a square).
    """
    return TEXTURE_PX_PER_M * min(1.0, 0.1 / board.spacing)


@dataclass
class BoardPose:
    """Board frame -> visible camera frame: X_v = R @ X_b + t (metres)."""

    R: np.ndarray
    t: np.ndarray

    def points_in_visible(self, pts_board: np.ndarray) -> np.ndarray:
        return np.asarray(pts_board, float).reshape(-1, 3) @ self.R.T + self.t


def board_texture(board: BoardSpec) -> BoardTexture:
    """
    Return the reflectance image of the board (1 white, 0 black) and its margin.

    The image includes a white margin; the margin is in metres (texture origin
    = board origin - margin).
    """
    s = board.spacing
    n = texels_per_metre(board)
    if board.kind == 'charuco':
        margin = 0.5 * s
        w, h = board.board_extent()
        size = (int(round(w * n)), int(round(h * n)))
        img = charuco_image(board.charuco_board(), size).astype(np.float32) / 255.0
        mpx = int(round(margin * n))
        tex = cv2.copyMakeBorder(img, mpx, mpx, mpx, mpx, cv2.BORDER_CONSTANT, value=1.0)
        # charuco's chessboard corner 0 is at (s, s) of the generated image;
        # getChessboardCorners uses the same origin as the image's top-left
        return BoardTexture(tex, margin, n)
    if board.kind == 'chessboard':
        # object point (0,0) is the first inner corner, one square in
        margin = s  # white margin beyond the outer squares
        w, h = (board.cols + 1) * s, (board.rows + 1) * s
        W, Hh = w + 2 * margin, h + 2 * margin
        xs = (np.arange(int(round(W * n))) + 0.5) / n - margin - s
        ys = (np.arange(int(round(Hh * n))) + 0.5) / n - margin - s
        # rows x columns by broadcasting: a far board's texture has tens of megatexels
        X, Y = xs[None, :], ys[:, None]
        inside = (X >= -s) & (X < w - s) & (Y >= -s) & (Y < h - s)
        black = ((np.floor(X / s) + np.floor(Y / s)) % 2 == 0) & inside
        return BoardTexture(np.where(black, 0.0, 1.0).astype(np.float32), margin + s, n)
    # circle grids: object point (0,0) is the first centre
    r = board.circle_radius
    margin = r + 0.5 * s
    pts = board.object_points()
    W, Hh = pts[:, 0].max() + 2 * margin, pts[:, 1].max() + 2 * margin
    tex = np.ones((int(round(Hh * n)), int(round(W * n))), np.float32)
    sh = 4  # cv2 drawing with 4 fractional bits, anti-aliased
    for x, y, _ in pts:
        c = (int(round((x + margin) * n * 16 - 8)), int(round((y + margin) * n * 16 - 8)))
        cv2.circle(tex, c, int(round(r * n * 16)), 0.0, -1, cv2.LINE_AA, sh)
    return BoardTexture(tex, margin, n)


@lru_cache(maxsize=4)
def _subpixel_rays(name, width, height, K_bytes, dist_bytes, ss):
    K = np.frombuffer(K_bytes).reshape(3, 3)
    dist = np.frombuffer(dist_bytes)
    off = (np.arange(ss) + 0.5) / ss - 0.5
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = []
    for oy in off:
        for ox in off:
            pts = np.stack([(u + ox).ravel(), (v + oy).ravel()], axis=1)
            und = undistort_points(pts, K, dist,
                                   (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10))
            rays.append(und.reshape(height, width, 2).astype(np.float32))
    return np.stack(rays)  # (ss*ss, H, W, 2)


def subpixel_rays(cam: PinholeCamera, ss: int = SUPERSAMPLE) -> np.ndarray:
    """Normalised undistorted ray (x, y) of ss*ss points in every raw pixel."""
    return _subpixel_rays(cam.name, cam.width, cam.height, cam.K.tobytes(),
                          np.asarray(cam.dist, float).tobytes(), ss)


def render_reflectance(cam: PinholeCamera, R: np.ndarray, t: np.ndarray, board: BoardSpec,
                       texture=None, background: float = 0.45) -> np.ndarray:
    """Fraction of white seen by each raw pixel; board pose board->camera."""
    tex, margin, px_per_m = texture if texture is not None else board_texture(board)
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
        mx = ((bu + margin) * px_per_m - 0.5).astype(np.float32)
        my = ((bv + margin) * px_per_m - 0.5).astype(np.float32)
        mx[lam <= 0] = -1e6
        acc += cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=float(background))
    return acc / len(rays)


def _fits(pix: np.ndarray, cam: PinholeCamera, margin: float = 8) -> bool:
    return bool(pix.min() > margin and pix[:, 0].max() < cam.width - margin
                and pix[:, 1].max() < cam.height - margin)


def _random_pose(rng: np.random.Generator, rig: Rig, board: BoardSpec, dist_range,
                 cameras=CAMERAS, max_tilt_deg: float = 40.0, tries: int = 500):
    """Return a board pose seen whole by ``cameras``, spread over the first one's image."""
    obj = board.object_points()
    centre = np.array([obj[:, 0].mean(), obj[:, 1].mean(), 0.0])
    lo, hi = obj[:, :2].min(0) - board.spacing, obj[:, :2].max(0) + board.spacing
    corners = np.array([[lo[0], lo[1], 0], [hi[0], lo[1], 0], [hi[0], hi[1], 0],
                        [lo[0], hi[1], 0]])
    aim = rig.visible if cameras[0] == 'visible' else rig.thermal
    tilt = max_tilt_deg
    for _ in range(tries):
        z = rng.uniform(*dist_range)
        # aim at a random image point so views cover the frame
        u, v = rng.uniform(0.12, 0.88) * aim.width, rng.uniform(0.12, 0.88) * aim.height
        ray = np.linalg.inv(aim.K) @ np.array([u, v, 1.0])
        c = ray * z
        ang = np.deg2rad(np.array([rng.uniform(-tilt, tilt), rng.uniform(-tilt, tilt),
                                   rng.uniform(-20, 20)]))
        R, _ = cv2.Rodrigues(ang)
        t = c - R @ centre
        if aim is rig.thermal:  # aimed in the thermal frame: express in the visible one
            R, t = rig.R.T @ R, rig.R.T @ (t - rig.t)
        pv = corners @ R.T + t
        pt = rig.to_thermal(pv)
        if np.any(pv[:, 2] < 0.3) or np.any(pt[:, 2] < 0.3):
            continue
        if all(_fits(rig.visible.project(pv) if cam == 'visible' else rig.thermal.project(pt),
                     rig.visible if cam == 'visible' else rig.thermal) for cam in cameras):
            return BoardPose(R, t)
    raise RuntimeError(f"no pose keeps board {board} inside the {' and '.join(cameras)} image(s) "
                       f'at {dist_range} m')


@dataclass
class BoardView:
    """One board pose and the light each camera gets from it (None: not rendered)."""

    pose: BoardPose
    visible: np.ndarray | None  # reflectance per raw visible pixel
    thermal: np.ndarray | None


def render_board_views(rig: Rig, board: BoardSpec | str, n_views: int, seed: int = 0,
                       dist_range=(1.0, 3.0), cameras=CAMERAS, max_tilt_deg: float = 40.0,
                       rng: np.random.Generator | None = None) -> list[BoardView]:
    """Poses and reflectances of ``n_views`` views that every camera in ``cameras`` sees whole."""
    board = parse_board(board) if isinstance(board, str) else board
    rng = np.random.default_rng(seed) if rng is None else rng
    tex = board_texture(board)
    out = []
    for _ in range(n_views):
        pose = _random_pose(rng, rig, board, dist_range, cameras, max_tilt_deg)
        out.append(_render_view(rig, board, tex, pose, cameras))
    return out


def _render_view(rig: Rig, board: BoardSpec, tex, pose: BoardPose, cameras) -> BoardView:
    refl_v = refl_t = None
    if 'visible' in cameras:
        refl_v = render_reflectance(rig.visible, pose.R, pose.t, board, tex, background=0.45)
    if 'thermal' in cameras:
        Rt, tt = rig.R @ pose.R, rig.R @ pose.t + rig.t
        # cool surroundings
        refl_t = render_reflectance(rig.thermal, Rt, tt, board, tex, background=1.35)
    return BoardView(pose, refl_v, refl_t)


def apply_sensors(views: list[BoardView], seed: int = 0, visible: VisibleSensor | None = None,
                  thermal: ThermalSensor | None = None):
    """(visible RGB or None, thermal counts or None, BoardPose) per view, one noise seed."""
    rng = np.random.default_rng(seed)
    visible, thermal = visible or VisibleSensor(), thermal or ThermalSensor()
    out = []
    for v in views:
        vis = None if v.visible is None else visible.capture(v.visible, rng)
        out.append((vis, None if v.thermal is None else thermal.capture(v.thermal, rng), v.pose))
    return out


def render_board_captures(rig: Rig, board: BoardSpec | str, n_views: int, seed: int = 0,
                          dist_range=(1.0, 3.0), blur_sigma=(0.6, 1.0), noise=(1.5, 12.0),
                          thermal_bits: int = 16, polarity: str = 'inverted'):
    """
    ``n_views`` joint views: (visible RGB uint8, thermal counts, BoardPose).

    ``blur_sigma`` and ``noise`` are (visible, thermal); thermal counts are
    16-bit raw or 8-bit AGC (``thermal_bits``), the board ``polarity``
    "inverted" (a heated board: light squares cold) or "normal".
    """
    board = parse_board(board) if isinstance(board, str) else board
    rng = np.random.default_rng(seed)
    tex = board_texture(board)
    vs = VisibleSensor(blur_sigma[0], noise[0])
    ts = ThermalSensor(blur_sigma[1], noise[1], thermal_bits, polarity)
    out = []
    for _ in range(n_views):  # pose, then both sensors, view by view: seeds stay reproducible
        view = _render_view(rig, board, tex, _random_pose(rng, rig, board, dist_range), CAMERAS)
        out.append((vs.capture(view.visible, rng), ts.capture(view.thermal, rng), view.pose))
    return out


def write_images(folder: str | Path, images, prefix: str = 'view') -> list[Path]:
    """Write ``prefix_XX.png`` (RGB converted to OpenCV's BGR; grey kept at its depth)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f'{prefix}_{i:02d}.png'
        out = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
        if not cv2.imwrite(str(path), out):
            raise OSError(f'could not write {path}')
        paths.append(path)
    return paths


def write_board_captures(out_dir: str | Path, rig: Rig, board: BoardSpec | str, n_views: int,
                         seed: int = 0, **kw):
    """
    Write ``visible/view_XX.png`` and ``thermal/view_XX.png``; return the BoardPoses.

    Visible: RGB saved as PNG; thermal: 16-bit. The return is the list of
    BoardPose.
    """
    caps = render_board_captures(rig, board, n_views, seed, **kw)
    write_images(Path(out_dir) / 'visible', [v for v, _, _ in caps])
    write_images(Path(out_dir) / 'thermal', [t for _, t, _ in caps])
    return [p for _, _, p in caps]


def render_intrinsic_captures(rig: Rig, board: BoardSpec | str, camera: str, n_views: int,
                              seed: int = 0,
                              dist_range=(1.0, 3.0), max_tilt_deg: float = 40.0,
                              sensor: VisibleSensor | ThermalSensor | None = None):
    """
    Render one camera's own captures of ``board`` (FMB's per-sensor intrinsic step).

    ``n_views`` of (image, BoardPose), the board whole in that camera only (the
    other one may see part of it or nothing).
    """
    if camera not in CAMERAS:
        raise ValueError(f'camera must be one of {CAMERAS}, got {camera!r}')
    views = render_board_views(rig, board, n_views, seed, dist_range, (camera,), max_tilt_deg)
    sensors = {'visible': sensor if camera == 'visible' else None,
               'thermal': sensor if camera == 'thermal' else None}
    caps = apply_sensors(views, seed + 1, **sensors)
    return [(v if camera == 'visible' else t, pose) for v, t, pose in caps]
