"""One call from board images to a registration folder.

detect -> per-sensor intrinsics -> joint pose -> homography -> crop ->
``visible.yaml``, ``thermal.yaml``, ``registration.yaml``, ``report.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from calibration.boards import BoardSpec, parse_board
from calibration.crop import compute_crop
from calibration.detect import Detection, detect_board
from calibration.homography import homography_from_corners, homography_from_plane, misalignment_by_depth
from calibration.intrinsics import CalibrationError, IntrinsicsResult
from calibration.normalize import to_gray
from calibration.refine import REFINABLE, refine_and_calibrate
from calibration.report import draw_detection, registered_checker, write_report
from calibration.sources import load_image, paired_files
from calibration.stereo import StereoResult, calibrate_pair, joint_points
from ros2_ssvif.camera_info import save_camera_info
from ros2_ssvif.registration import Registration


@dataclass
class CalibrationResult:
    registration: Registration
    visible: IntrinsicsResult
    thermal: IntrinsicsResult
    stereo: StereoResult
    misalignment: dict
    missing: dict[str, list[str]] = field(default_factory=dict)  # camera -> views without a board
    output_dir: Path | None = None


def _board(b) -> BoardSpec:
    return parse_board(b) if isinstance(b, str) else b


def is_new_view(det: Detection, kept: list[Detection], min_move_px: float) -> bool:
    """A view adds information only if the board moved since every kept view."""
    for k in kept:
        if len(k) == len(det) and np.array_equal(k.ids, det.ids):
            if np.median(np.linalg.norm(k.image_points - det.image_points, axis=1)) < min_move_px:
                return False
    return True


def calibrate_pairs(pairs: Iterable[tuple[str, np.ndarray, np.ndarray]], board, output_dir=None,
                    thermal_board=None, plane_distance: float | None = None, output_size=None,
                    diverse_only: bool = False, min_move_px: float = 15.0, progress: bool = True,
                    refine_centres: bool = True, refine_iterations: int = 3) -> CalibrationResult:
    """Calibrate from (name, visible RGB, thermal) triples; write outputs if ``output_dir``.

    A source that already detected the board (``--live``) passes
    (name, visible, thermal, visible detection, thermal detection) instead.

    ``refine_centres`` re-measures circle-grid centres in fronto-parallel
    unwarps (see :mod:`calibration.refine`); it needs the grey views, which
    are kept only for circle grids.
    """
    board = _board(board)
    tboard = _board(thermal_board) if thermal_board else board
    dv, dt, missing = {}, {}, {"visible": [], "thermal": []}
    grays: dict[str, dict[str, np.ndarray]] = {"visible": {}, "thermal": {}}
    keep_gray = {"visible": refine_centres and board.kind in REFINABLE,
                 "thermal": refine_centres and tboard.kind in REFINABLE}
    first: dict = {}  # first view with a board per camera / pair, for the report figures
    sizes_v, sizes_t = set(), set()
    for name, vis, th, *found in tqdm(pairs, desc="detecting boards", unit="pair", disable=not progress):
        sizes_v.add((vis.shape[1], vis.shape[0]))
        sizes_t.add((th.shape[1], th.shape[0]))
        if len(sizes_v) > 1 or len(sizes_t) > 1:
            raise CalibrationError(f"images have mixed sizes (visible {sorted(sizes_v)}, thermal {sorted(sizes_t)})")
        a, b = found if found else (detect_board(vis, board), detect_board(th, tboard))
        if diverse_only and a is not None and not is_new_view(a, list(dv.values()), min_move_px):
            continue
        for det, store, cam, img in ((a, dv, "visible", vis), (b, dt, "thermal", th)):
            if det is None:
                missing[cam].append(name)
            else:
                store[name] = det
                first.setdefault(cam, (name, img))
                if keep_gray[cam]:
                    grays[cam][name] = to_gray(img)
        if a is not None and b is not None:
            first.setdefault("pair", (name, vis, th))
    if not sizes_v:
        raise CalibrationError("no image pairs to calibrate from")
    if not dv and not dt:
        raise CalibrationError(f"the board {board} was found in none of the {len(missing['visible'])} pairs")
    for cam, d in (("visible", dv), ("thermal", dt)):
        if not d:
            raise CalibrationError(f"the board was found in no {cam} image (tried {len(missing[cam])})")
    n_it = refine_iterations if refine_centres else 0
    iv, dv = refine_and_calibrate(dv, grays["visible"], board, "visible", n_it)
    it, dt = refine_and_calibrate(dt, grays["thermal"], tboard, "thermal", n_it)
    st = calibrate_pair(dv, dt, iv.camera_info, it.camera_info)
    vis_ci, th_ci = iv.camera_info, it.camera_info
    if plane_distance is not None:
        H = homography_from_plane(vis_ci, th_ci, st.R, st.t, plane_distance)
        h_info = {"homography_source": "plane", "plane_distance_m": "inf" if np.isinf(plane_distance) else float(plane_distance)}
    else:
        jp = [joint_points(dv[n], dt[n])[1:] for n in st.views]
        H, h_rms = homography_from_corners(jp, vis_ci, th_ci)
        h_info = {"homography_source": "board corners (RANSAC)", "homography_fit_rms_px": h_rms}
    crop, out_size = compute_crop(vis_ci, th_ci, H, output_size)
    mis = misalignment_by_depth(H, vis_ci, th_ci, st.R, st.t)
    info = {
        **h_info, "board": str(board), "thermal_board": str(tboard),
        "visible_rms_px": iv.rms, "thermal_rms_px": it.rms, "stereo_rms_px": st.rms, "epipolar_rms_px": st.epipolar_rms,
        "visible_model": iv.model, "thermal_model": it.model,
        "views": {"visible": len(iv.per_view_rms), "thermal": len(it.per_view_rms), "joint": len(st.views)},
        "R_visible_to_thermal": st.R.tolist(), "t_visible_to_thermal_m": st.t.tolist(),
        "baseline_m": float(np.linalg.norm(st.t)), "misalignment_px_by_depth_m": mis,
    }
    reg = Registration(vis_ci, th_ci, H, crop, out_size, info)
    result = CalibrationResult(reg, iv, it, st, mis, missing)
    if output_dir is not None:
        write_outputs(result, Path(output_dir), first, dv, dt)
    return result


def _camera_summary(intr, cam, missing) -> dict:
    """The report's numbers for one camera."""
    return {"views used": len(intr.per_view_rms), "rejected": intr.rejected or "none",
            "without board": missing or "none", "RMS px": round(intr.rms, 4),
            "model": intr.model, "held-out RMS by model": intr.heldout,
            "centre refinement (RMS px per round)": _rounds(intr.refinement),
            "K": np.round(cam.camera_matrix, 3).tolist(), "D": np.round(cam.distortion_coefficients, 5).tolist(),
            "coverage": f"{intr.coverage:.0%}", "warnings": intr.warnings or "none"}


def write_outputs(result: CalibrationResult, out: Path, first: dict, dv, dt) -> None:
    out.mkdir(parents=True, exist_ok=True)
    reg = result.registration
    save_camera_info(reg.visible, out / "visible.yaml")
    save_camera_info(reg.thermal, out / "thermal.yaml")
    reg.save(out / "registration.yaml")
    figs = {}
    for cam, dets in (("visible", dv), ("thermal", dt)):
        if cam in first:
            name, img = first[cam]
            figs[f"corners_{cam}.png"] = draw_detection(img, dets[name])
    if "pair" in first:
        name, vis, th = first["pair"]
        pose = result.visible.poses.get(name)
        figs["registered_checker.png"] = registered_checker(
            reg, vis, th, board_distance=None if pose is None else float(pose[1][2]))
    r = result
    summary = {
        "board": reg.info["board"],
        "output size": f"{reg.output_size[0]}x{reg.output_size[1]}",
        "crop (x, y, w, h), undistorted visible px": tuple(round(v, 1) for v in reg.crop),
        "visible": _camera_summary(r.visible, reg.visible, r.missing.get("visible")),
        "thermal": _camera_summary(r.thermal, reg.thermal, r.missing.get("thermal")),
        "joint": {"views": len(r.stereo.views), "stereo RMS px": round(r.stereo.rms, 4),
                  "epipolar RMS px": round(r.stereo.epipolar_rms, 4),
                  "t visible->thermal (m)": np.round(r.stereo.t, 4).tolist(),
                  "homography": {k: v for k, v in reg.info.items() if k.startswith(("homography", "plane"))}},
        "expected misalignment by depth (undistorted visible px)": {
            f"{k} m": f"median {v['median_px']:.2f}, max {v['max_px']:.2f}" for k, v in r.misalignment.items()},
    }
    write_report(out, summary, figs, {"visible": r.visible.per_view_rms, "thermal": r.thermal.per_view_rms},
                 {"visible": r.visible.rejected, "thermal": r.thermal.rejected})
    result.output_dir = out


def _rounds(history: list[float]) -> str:
    return " -> ".join(f"{v:.3f}" for v in history) if history else "off"


def _iter_folder_pairs(visible_dir, thermal_dir):
    for name, pv, pt in paired_files(visible_dir, thermal_dir):
        yield name, load_image(pv), load_image(pt)


def calibrate_folders(visible_dir, thermal_dir, board, output_dir, plane_distance=None, output_size=None,
                      thermal_board=None, progress: bool = True, refine_centres: bool = True) -> CalibrationResult:
    """Calibrate from two folders of images paired by file stem."""
    paired_files(visible_dir, thermal_dir)  # fail early on empty / unpaired folders
    return calibrate_pairs(_iter_folder_pairs(visible_dir, thermal_dir), board, output_dir, thermal_board,
                           plane_distance, output_size, progress=progress, refine_centres=refine_centres)
