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

"""The human-readable side of a calibration: the output folder, report.md and its PNGs."""
from __future__ import annotations

from pathlib import Path

from calibration.normalize import stretch
import cv2
import matplotlib


matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ros2_ssvif.camera_info import save_camera_info  # noqa: E402


def _to_bgr8(img: np.ndarray) -> np.ndarray:
    g = img if img.dtype == np.uint8 else stretch(img)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR if g.ndim == 2 else cv2.COLOR_RGB2BGR)


def draw_detection(img: np.ndarray, det) -> np.ndarray:
    out = _to_bgr8(img)
    pts = det.image_points
    for k, (x, y) in enumerate(pts):
        col = (0, 0, 255) if k == 0 else (0, 220, 0)
        cv2.circle(out, (int(round(x * 4)), int(round(y * 4))), 12, col, 1, cv2.LINE_AA, 2)
    cv2.polylines(out, [np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)], False,
                  (255, 160, 0), 1, cv2.LINE_AA, 2)
    return out


def registered_checker(reg, vis: np.ndarray, th: np.ndarray, tile: int = 32, max_width: int = 640,
                       board_distance: float | None = None) -> np.ndarray:
    """
    Draw one view registered both ways, as a fine checker of visible and thermal.

    Visible is grey and thermal colour-mapped, so the two are told apart at a
    glance: edges that run straight across tile borders show the registration is
    right at the plane named in the title strip; elsewhere parallax breaks them.
    """
    maps = reg.build_maps()
    a = cv2.cvtColor(cv2.cvtColor(_to_bgr8(maps.register_visible(vis)), cv2.COLOR_BGR2GRAY),
                     cv2.COLOR_GRAY2BGR)
    b = cv2.applyColorMap(stretch(maps.register_thermal(th)), cv2.COLORMAP_INFERNO)
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.where(((yy // tile + xx // tile) % 2 == 0)[..., None], a, b)
    if w > max_width:
        out = cv2.resize(out, (max_width, int(round(h * max_width / w))),
                         interpolation=cv2.INTER_AREA)
    d = reg.info.get('plane_distance_m')
    label = f'plane {d} m' if d is not None else 'board-corner homography'
    if board_distance is not None:
        label += f', board here at {board_distance:.2f} m'
    label += f'; grey = visible, colour = thermal, {tile} px tiles'
    strip = np.full((22, out.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, out])


def error_plot(path: Path, per_view: dict[str, dict[str, float]],
               rejected: dict[str, dict[str, float]]) -> None:
    fig, axes = plt.subplots(len(per_view), 1, figsize=(8, 2.6 * len(per_view)), squeeze=False)
    for ax, (cam, errs) in zip(axes[:, 0], per_view.items()):
        names = sorted(set(errs) | set(rejected.get(cam, {})))
        vals = [errs.get(n, rejected.get(cam, {}).get(n, 0.0)) for n in names]
        cols = ['tab:red' if n in rejected.get(cam, {}) else 'tab:blue' for n in names]
        ax.bar(range(len(names)), vals, color=cols)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_ylabel('RMS px')
        ax.set_title(f'{cam}: per-view reprojection error (red = rejected)')
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(out: Path, summary: dict, figures: dict[str, np.ndarray], per_view,
                 rejected) -> Path:
    """Write PNGs and report.md; ``summary`` holds the numbers."""
    out = Path(out)
    for name, img in figures.items():
        cv2.imwrite(str(out / name), img)
    error_plot(out / 'per_view_error.png', per_view, rejected)
    lines = ['# Calibration report', '']
    for key, val in summary.items():
        if isinstance(val, dict):
            lines.append(f'## {key}')
            lines += [f'- {k}: {v}' for k, v in val.items()]
            lines.append('')
        else:
            lines.append(f'- **{key}**: {val}')
    lines.append('')
    lines += [f'![{n}]({n})' for n in [*figures, 'per_view_error.png']]
    path = out / 'report.md'
    path.write_text('\n'.join(lines) + '\n')
    return path


def _rounds(history: list[float]) -> str:
    return ' -> '.join(f'{v:.3f}' for v in history) if history else 'off'


def _sharpness_text(sharp: dict[str, float]) -> str:
    if not sharp:
        return 'not measured (chessboards only)'
    v = np.array(list(sharp.values()))
    note = ('' if np.median(v) <= 3.0
            else '; blurrier than findChessboardCornersSB wants, corners re-measured')
    return (f'median {np.median(v):.2f} px, worst {v.max():.2f} px '
            f'(edge width; sharp is below 3 px{note})')


def _camera_summary(intr, cam, missing) -> dict:
    """Return the report's numbers for one camera."""
    ph = intr.points_heldout
    return {'views used': len(intr.per_view_rms), 'rejected': intr.rejected or 'none',
            'without board': missing or 'none', 'RMS px': round(intr.rms, 4),
            'model': intr.model, 'held-out RMS by model': intr.heldout,
            'point refinement (RMS px per round)': _rounds(intr.refinement),
            'held-out RMS, detector vs refined points': (
                f"{ph['detector']:.4f} vs {ph['refined']:.4f} px ({ph['rounds']} rounds), "
                f"kept {ph['kept']}"
                if ph else 'off'),
            'sharpness': _sharpness_text(intr.sharpness),
            'K': np.round(cam.camera_matrix, 3).tolist(),
            'D': np.round(cam.distortion_coefficients, 5).tolist(),
            'coverage': f'{intr.coverage:.0%}', 'warnings': intr.warnings or 'none'}


def _baseline_text(t, t_std) -> str:
    """|t| with its 1-sigma, propagated to first order from the per-axis sigmas."""
    t = np.asarray(t, float).ravel() * 1000
    sd = np.asarray(t_std, float).ravel() * 1000
    norm = float(np.linalg.norm(t))
    sigma = float(np.sqrt(np.sum((t / norm * sd) ** 2))) if norm > 0 else float('nan')
    return f'{norm:.2f} ± {sigma:.2f}'


def _joint_summary(r, reg) -> dict:
    j = r.joint
    ho = ', '.join(f'{k} {v:.4f} px' for k, v in r.joint_heldout.items()) or 'not compared'
    return {'views': len(r.stereo.views), 'solution': r.joint_mode,
            'held-out transfer RMS (left-out joint views, one camera predicting the other)': ho,
            'stereo RMS px (intrinsics fixed)': round(r.stereo.rms, 4),
            'epipolar RMS px': round(r.stereo.epipolar_rms, 4),
            't visible->thermal (m)': np.round(np.asarray(reg.info['t_visible_to_thermal_m']),
                                               4).tolist(),
            't 1-sigma (mm), from the Jacobian of the joint problem': np.round(j.t_std * 1000,
                                                                               3).tolist(),
            'baseline (mm)': _baseline_text(reg.info['t_visible_to_thermal_m'], j.t_std),
            'rejected joint views (px)': (
                {n: round(e, 2) for n, e in r.stereo.rejected.items()} or 'none'),
            'warnings': r.warnings or 'none',
            'rotation 1-sigma (deg)': np.round(j.rot_std_deg, 4).tolist(),
            'homography': {k: v for k, v in reg.info.items() if k.startswith(('homography',
                                                                              'plane'))}}


def _far_summary(far: dict, reg) -> dict | str:
    if far:
        return {name: (v['error'] if 'error' in v else
                       f"median {v['median px']:.3f}, p95 {v['p95 px']:.3f}, "
                       f"max {v['max px']:.3f} px "
                       f"over {v['points']} points, board at {v['board distance m']} m "
                       f"(expected there: {v['expected px']} px)")
                for name, v in far.items()}
    if reg.info.get('plane_distance_m') is None:
        return 'not measured: no --plane-distance (the homography fits the board corners)'
    return ('not measured: no joint view has its board at the working distance; '
            'give --far-pair VISIBLE THERMAL (a pair of a board at that distance)')


def write_outputs(result, out: Path, first: dict, dv, dt) -> None:
    """Camera files, registration.yaml and report.md for a ``CalibrationResult``."""
    out.mkdir(parents=True, exist_ok=True)
    reg = result.registration
    save_camera_info(reg.visible, out / 'visible.yaml')
    save_camera_info(reg.thermal, out / 'thermal.yaml')
    reg.save(out / 'registration.yaml')
    figs = {}
    for cam, dets in (('visible', dv), ('thermal', dt)):
        if cam in first:
            name, img = first[cam]
            figs[f'corners_{cam}.png'] = draw_detection(img, dets[name])
    if 'pair' in first:
        name, vis, th = first['pair']
        pose = result.visible.poses.get(name)
        figs['registered_checker.png'] = registered_checker(
            reg, vis, th, board_distance=None if pose is None else float(pose[1][2]))
    r = result
    summary = {
        'board': reg.info['board'],
        'output size': f'{reg.output_size[0]}x{reg.output_size[1]}',
        'crop (x, y, w, h), undistorted visible px': tuple(round(v, 1) for v in reg.crop),
        'visible': _camera_summary(r.visible, reg.visible, r.missing.get('visible')),
        'thermal': _camera_summary(r.thermal, reg.thermal, r.missing.get('thermal')),
        'joint': _joint_summary(r, reg),
        'expected misalignment by depth (undistorted visible px)': {
            f'{k} m': f"median {v['median_px']:.2f}, max {v['max_px']:.2f}"
            for k, v in r.misalignment.items()},
        'measured alignment at the working distance (registered output px)':
            _far_summary(r.far_plane, reg),
    }
    write_report(out, summary, figs,
                 {'visible': r.visible.per_view_rms, 'thermal': r.thermal.per_view_rms},
                 {'visible': r.visible.rejected, 'thermal': r.thermal.rejected})
    result.output_dir = out
