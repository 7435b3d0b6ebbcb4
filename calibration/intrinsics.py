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
Intrinsics of one camera from its board views.

Beyond ``calibrateCameraExtended``: choose the distortion model by
held-out error (k3 is fitted only when views the model did not see are
predicted better, since a free k3 over-fits narrow coverage), drop views
whose reprojection error is far above the rest and solve again, and refuse
with a clear message when views are too few or too alike to pin down focal
length.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from calibration.cv_compat import calibrate_camera
from calibration.detect import Detection
from calibration.errors import CalibrationError  # noqa: F401 (public here too)
import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo


MODELS = {'k1,k2,p1,p2': cv2.CALIB_FIX_K3, 'k1,k2,p1,p2,k3': 0}
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


@dataclass
class IntrinsicsResult:
    camera_info: CameraInfo
    rms: float
    per_view_rms: dict[str, float]
    rejected: dict[str, float]  # view -> its error when rejected
    model: str
    heldout: dict[str, float]  # model -> held-out RMS
    poses: dict[str, tuple[np.ndarray, np.ndarray]]  # view -> (rvec, tvec) board->camera
    coverage: float  # fraction of the image covered by the views' board hulls
    warnings: list[str] = field(default_factory=list)
    # RMS per point-refinement round, first = unrefined
    refinement: list[float] = field(default_factory=list)
    # held-out RMS of the detector's vs the refined points, and which were kept
    points_heldout: dict = field(default_factory=dict)
    sharpness: dict[str, float] = field(default_factory=dict)  # view -> edge width px


def _arrays(dets: list[Detection]):
    obj = [d.object_points.astype(np.float32).reshape(-1, 1, 3) for d in dets]
    img = [d.image_points.astype(np.float32).reshape(-1, 1, 2) for d in dets]
    return obj, img


def _solve(dets: list[Detection], size, flags: int):
    obj, img = _arrays(dets)
    return calibrate_camera(obj, img, size, flags, CRITERIA)


def _view_rms(det: Detection, K, D) -> float:
    ok, rv, tv = cv2.solvePnP(det.object_points, det.image_points, K, D,
                              flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return float('inf')
    rv, tv = cv2.solvePnPRefineLM(det.object_points, det.image_points, K, D, rv, tv)
    proj, _ = cv2.projectPoints(det.object_points, rv, tv, K, D)
    return float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - det.image_points) ** 2, axis=1))))


def heldout_error(dets: list[Detection], size, flags: int, folds: int = 3) -> float:
    """RMS over views left out of the fit (k-fold), poses re-solved per view."""
    n = len(dets)
    folds = min(folds, n)
    errs = []
    for f in range(folds):
        test = [d for i, d in enumerate(dets) if i % folds == f]
        train = [d for i, d in enumerate(dets) if i % folds != f]
        if len(train) < 3:
            return float('nan')
        try:
            _, K, D, *_ = _solve(train, size, flags)
        except cv2.error:
            return float('inf')
        errs += [_view_rms(d, K, D) ** 2 for d in test]
    return float(np.sqrt(np.mean(errs)))


def coverage_fraction(dets: list[Detection], size) -> float:
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    for d in dets:
        hull = cv2.convexHull(d.image_points.astype(np.float32)).astype(np.int32)
        cv2.fillConvexPoly(mask, hull, 1)
    return float(mask.mean())


def calibrate_intrinsics(detections: dict[str, Detection], camera_name: str = 'camera',
                         min_views: int = 4, outlier_factor: float = 3.0) -> IntrinsicsResult:
    """Calibrate one camera; ``detections`` maps view name -> Detection."""
    names = sorted(detections)
    if len(names) < min_views:
        raise CalibrationError(
            f'{camera_name}: the board was found in {len(names)} view(s); at least {min_views} '
            f'views at different angles and positions are needed')
    dets = [detections[n] for n in names]
    size = dets[0].image_size
    if any(d.image_size != size for d in dets):
        raise CalibrationError(f'{camera_name}: images have different sizes; one camera, one size')
    heldout = {m: heldout_error(dets, size, f) for m, f in MODELS.items()}
    model = 'k1,k2,p1,p2'
    k3, no_k3 = heldout['k1,k2,p1,p2,k3'], heldout['k1,k2,p1,p2']
    if np.isfinite(k3) and k3 < 0.95 * no_k3:
        model = 'k1,k2,p1,p2,k3'
    flags = MODELS[model]
    rejected: dict[str, float] = {}
    keep = list(names)
    for _ in range(3):
        rms, K, D, rv, tv, per_view = _solve([detections[n] for n in keep], size, flags)
        med = float(np.median(per_view))
        limit = max(outlier_factor * med, med + 0.3)
        bad = [(n, e) for n, e in zip(keep, per_view) if e > limit]
        if not bad or len(keep) - len(bad) < min_views:
            break
        for n, e in bad:
            rejected[n] = float(e)
        keep = [n for n in keep if n not in rejected]
    # diversity: focal length is unobservable from fronto-parallel views alone
    normals = np.array([cv2.Rodrigues(r)[0][:, 2] for r in rv])
    mean_normal = normals.mean(0) / np.linalg.norm(normals.mean(0))
    tilt = np.degrees(np.arccos(np.clip(np.abs(normals @ mean_normal), 0, 1)))
    if tilt.max() < 5.0:
        raise CalibrationError(
            f'{camera_name}: the {len(keep)} views are too similar (board tilt varies by under '
            f'5 degrees); '
            f'tilt the board 20-40 degrees in different directions')
    cov = coverage_fraction([detections[n] for n in keep], size)
    warnings = []
    if cov < 0.3:
        warnings.append(f'{camera_name}: boards cover only {cov:.0%} of the image; distortion '
                        f'near the edges is extrapolated')
    info = CameraInfo(camera_name, size[0], size[1], K,
                      D[:5] if D.size >= 5 else np.r_[D, np.zeros(5 - D.size)])
    return IntrinsicsResult(
        camera_info=info, rms=float(rms),
        per_view_rms={n: float(e) for n, e in zip(keep, per_view)},
        rejected=rejected, model=model, heldout=heldout,
        poses={n: (r.ravel(), t.ravel()) for n, r, t in zip(keep, rv, tv)}, coverage=cov,
        warnings=warnings)
