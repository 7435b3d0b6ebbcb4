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
One call from board images to a registration folder.

detect (joint captures, and each sensor's own intrinsic captures) ->
point refinement + per-sensor intrinsics -> joint pose (intrinsics fixed,
or refined jointly where that predicts left-out views better) ->
homography -> crop -> measured far-plane alignment -> ``visible.yaml``,
``thermal.yaml``, ``registration.yaml``, ``report.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from calibration.boards import BoardSpec, parse_board
from calibration.collect import Captures
from calibration.crop import compute_crop
from calibration.far_plane import measure_far_pairs, measure_joint_views
from calibration.homography import (
    homography_from_corners,
    homography_from_plane,
    misalignment_by_depth,
)
from calibration.intrinsics import IntrinsicsResult
from calibration.joint import JointResult, solve_joint, transfer_heldout
from calibration.options import CalibrationOptions, JOINT_MODES, resolve_options  # noqa: F401
from calibration.refine import refine_and_calibrate
from calibration.report import write_outputs
from calibration.sources import load_image, paired_files
from calibration.stereo import calibrate_pair, check_same_board, joint_points, StereoResult
import numpy as np
from ros2_ssvif.registration import Registration


# edge width (10-90 % rise) of a chessboard: OpenCV wants SB's boards below ~3 px; corners
# re-measured in unwarps held 0.03-0.05 px up to 5.4 px (thermal blur sigma 2) and degrade past it
SHARP_PX, SHARPNESS_WARN_PX = 3.0, 5.0


@dataclass
class CalibrationResult:
    registration: Registration
    visible: IntrinsicsResult
    thermal: IntrinsicsResult
    stereo: StereoResult
    misalignment: dict
    missing: dict[str, list[str]] = field(default_factory=dict)  # camera -> views without a board
    output_dir: Path | None = None
    joint: JointResult | None = None  # the joint problem at the chosen solution (uncertainty)
    joint_mode: str = 'fixed intrinsics'  # or "joint"
    joint_heldout: dict = field(default_factory=dict)  # method -> held-out transfer RMS (px)
    far_plane: dict = field(default_factory=dict)  # source -> alignment at the working distance
    warnings: list[str] = field(default_factory=list)  # the pair and the registration


FAR_WARN_PX = 2.0  # corner-fit homography: warn when road distances are this far off


def _registration_warnings(info: dict, mis: dict) -> list[str]:
    """Say so when the board-corner homography will not align the road (near boards only)."""
    if info.get('homography_source') != 'board corners (RANSAC)':
        return []
    far = {k: v['median_px'] for k, v in mis.items() if k in ('20', 'inf')}
    if not far or max(far.values()) <= FAR_WARN_PX:
        return []
    return [f'the homography fits the board corners (near boards): at 20 m it is off by '
            f"{far.get('20', float('nan')):.1f} px, at infinity {far.get('inf', float('nan')):.1f}"
            f' px; for a vehicle give --plane-distance (e.g. 20 or inf) or a --far-pair']


def _board(b) -> BoardSpec | None:
    return parse_board(b) if isinstance(b, str) else b


def _boards(board, visible_board, thermal_board, visible_views, thermal_views):
    """Return the board of each capture set; refuse pairing two boards' points by index."""
    vb, tb = _board(visible_board) or board, _board(thermal_board) or board
    for cam, b, views in (('visible', vb, visible_views), ('thermal', tb, thermal_views)):
        if b != board and views is None:
            # the joint views would show one board to each camera
            check_same_board(*((b, board) if cam == 'visible' else (board, b)))
    return vb, tb


def _sharpness(intr: IntrinsicsResult, dets, cam: str) -> None:
    sharp = {n: dets[n].sharpness for n in intr.per_view_rms if dets[n].sharpness is not None}
    intr.sharpness = sharp
    if sharp and np.median(list(sharp.values())) > SHARPNESS_WARN_PX:
        intr.warnings.append(
            f'{cam}: the board is too blurred: its edges are '
            f'{np.median(list(sharp.values())):.1f} px wide (median; sharp is below '
            f'{SHARP_PX:g} px, corners were verified up to about 5.5 px): focus the lens or '
            f'bring the board closer')


def _joint_pose(dv, dt, iv: IntrinsicsResult, it: IntrinsicsResult, mode: str):
    """
    Solve the fixed-intrinsics pose, then the joint solution where it helps.

    The joint solution is taken where it is asked for or predicts left-out
    joint views better (``mode`` auto).
    """
    kv = {n: dv[n] for n in iv.per_view_rms}
    kt = {n: dt[n] for n in it.per_view_rms}
    vis_ci, th_ci = iv.camera_info, it.camera_info
    st = calibrate_pair(kv, kt, vis_ci, th_ci)
    models = (iv.model, it.model)
    heldout = transfer_heldout(kv, kt, st.views, vis_ci, th_ci, models) if mode == 'auto' else {}
    use = mode == 'on' or (mode == 'auto' and heldout['joint'] < heldout['fixed intrinsics'])
    jr = solve_joint(kv, kt, st.views, vis_ci, th_ci, st.R, st.t, models, free_intrinsics=use)
    if not use:
        jr.visible, jr.thermal, jr.R, jr.t = vis_ci, th_ci, st.R, st.t
    return st, jr, ('joint' if use else 'fixed intrinsics'), heldout


def calibrate_pairs(pairs: Iterable[tuple], board, output_dir=None,
                    options: CalibrationOptions | None = None, **changes) -> CalibrationResult:
    """
    Calibrate from joint (name, visible RGB, thermal) triples of ``board``.

    Write outputs if ``output_dir``. ``options`` (:class:`CalibrationOptions`,
    where each one is described), with single ``changes`` by keyword.

    A source that already detected the board (``--live``) passes
    (name, visible, thermal, visible detection, thermal detection) instead.
    FMB calibrates each sensor on its own board (``visible_views`` /
    ``thermal_views`` of ``visible_board`` / ``thermal_board``), then the
    pair on one board both see; ``far_pairs`` are measured after
    registration.
    """
    o = resolve_options(options, changes)
    board = _board(board)
    vboard, tboard = _boards(board, o.visible_board, o.thermal_board, o.visible_views,
                             o.thermal_views)
    caps = Captures(refine=o.refine_centres)
    caps.add_joint(pairs, board, o.diverse_only, o.min_move_px, o.progress)
    caps.check(board)
    for cam, views, b in (('visible', o.visible_views, vboard),
                          ('thermal', o.thermal_views, tboard)):
        if views is not None:
            caps.add_single(cam, views, b, o.intrinsic_diverse_only, o.min_move_px, o.progress)
    n_it = o.refine_iterations if o.refine_centres else 0
    iv, dv = refine_and_calibrate(caps.dets['visible'], caps.grays['visible'],
                                  caps.boards['visible'],
                                  'visible', n_it)
    it, dt = refine_and_calibrate(caps.dets['thermal'], caps.grays['thermal'],
                                  caps.boards['thermal'],
                                  'thermal', n_it)
    _sharpness(iv, dv, 'visible')
    _sharpness(it, dt, 'thermal')
    st, jr, mode, heldout = _joint_pose(dv, dt, iv, it, o.joint_refinement)
    vis_ci, th_ci, R, t = jr.visible, jr.thermal, jr.R, jr.t
    plane_distance = o.plane_distance
    if plane_distance is not None:
        H = homography_from_plane(vis_ci, th_ci, R, t, plane_distance)
        h_info = {'homography_source': 'plane',
                  'plane_distance_m': 'inf' if np.isinf(plane_distance) else float(plane_distance)}
    else:
        jp = [joint_points(dv[n], dt[n])[1:] for n in st.views]
        H, h_rms = homography_from_corners(jp, vis_ci, th_ci)
        h_info = {'homography_source': 'board corners (RANSAC)', 'homography_fit_rms_px': h_rms}
    crop, out_size = compute_crop(vis_ci, th_ci, H, o.output_size)
    mis = misalignment_by_depth(H, vis_ci, th_ci, R, t)
    info = {
        **h_info, 'board': str(board), 'visible_board': str(vboard), 'thermal_board': str(tboard),
        'visible_rms_px': iv.rms, 'thermal_rms_px': it.rms, 'stereo_rms_px': st.rms,
        'epipolar_rms_px': st.epipolar_rms, 'visible_model': iv.model, 'thermal_model': it.model,
        'views': {'visible': len(iv.per_view_rms), 'thermal': len(it.per_view_rms),
                  'joint': len(st.views)},
        'joint_refinement': mode, 'joint_heldout_px': heldout,
        'R_visible_to_thermal': np.asarray(R).tolist(),
        't_visible_to_thermal_m': np.asarray(t).tolist(),
        't_std_m': jr.t_std.tolist(), 'baseline_m': float(np.linalg.norm(t)),
        'misalignment_px_by_depth_m': mis,
    }
    reg = Registration(vis_ci, th_ci, H, crop, out_size, info)
    far = measure_joint_views(reg, dv, dt, plane_distance)
    if o.far_pairs:
        far.update(measure_far_pairs(reg, o.far_pairs, _board(o.far_board) or board))
    result = CalibrationResult(reg, iv, it, st, mis, caps.missing, joint=jr, joint_mode=mode,
                               joint_heldout=heldout, far_plane=far,
                               warnings=st.warnings + _registration_warnings(info, mis))
    if output_dir is not None:
        write_outputs(result, Path(output_dir), caps.first, dv, dt)
    return result


def _iter_folder_pairs(visible_dir, thermal_dir):
    for name, pv, pt in paired_files(visible_dir, thermal_dir):
        yield name, load_image(pv), load_image(pt)


def calibrate_folders(visible_dir, thermal_dir, board, output_dir,
                      options: CalibrationOptions | None = None, **changes) -> CalibrationResult:
    """Calibrate from two folders of images paired by file stem (options as calibrate_pairs)."""
    o = resolve_options(options, changes)
    paired_files(visible_dir, thermal_dir)  # fail early on empty / unpaired folders
    return calibrate_pairs(_iter_folder_pairs(visible_dir, thermal_dir), board, output_dir, o)
