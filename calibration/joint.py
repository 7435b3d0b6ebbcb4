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
Joint refinement of both cameras, every board pose and the rig, with its uncertainty.

Both cameras' intrinsics, every board pose and the rig pose in one
least-squares problem, and the baseline's uncertainty.

Why by hand (``scipy.optimize.least_squares`` on an analytic Jacobian from
``cv2.projectPoints`` and ``cv2.composeRT``): ``cv2.stereoCalibrate`` only
takes views both cameras see; freeing the intrinsics there lets a few joint
views pull them away from each sensor's own, more numerous and better spread
views, and with FMB's separate boards (each sensor on its own board, one
joint board) most views are single-camera ones. Here every view counts: a
view of one camera constrains that camera and its board pose, a joint view
also ties the two cameras through ``X_t = R X_v + t``.

Whether the joint solution replaces the fixed-intrinsics one
(:mod:`calibration.stereo`) is decided by :func:`transfer_heldout`: joint
views left out of both fits are predicted from one camera into the other.
The uncertainty of R, t is the linearised covariance of the joint problem
at the chosen solution, ``s^2 (J^T J)^-1`` with ``s^2`` the residual
variance, all parameters free (so it includes the intrinsics' uncertainty).
"""
from __future__ import annotations

from dataclasses import dataclass

from calibration.cv_compat import calibrate_camera
from calibration.detect import Detection
from calibration.intrinsics import CRITERIA, MODELS
from calibration.stereo import calibrate_pair
import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo
from scipy.optimize import least_squares


N_INTR = 9  # fx, fy, cx, cy, k1, k2, p1, p2, k3


@dataclass
class JointResult:
    visible: CameraInfo
    thermal: CameraInfo
    R: np.ndarray
    t: np.ndarray
    rms: float  # reprojection RMS over every view of both cameras (px)
    t_std: np.ndarray  # 1-sigma of t (m)
    rot_std_deg: np.ndarray  # 1-sigma of the rig rotation vector (degrees)


@dataclass
class _Views:
    """The problem's data: per view, which camera(s) saw which points."""

    vis: dict[str, Detection]  # visible detections (their pose is board -> visible)
    th: dict[str, Detection]  # thermal detections
    joint: list[str]  # names in both (pose board -> visible, thermal through the rig)
    th_only: list[str]  # thermal-only views (pose board -> thermal)

    @property
    def posed(self) -> list[str]:
        return sorted(self.vis) + self.th_only


def _intr_vec(ci: CameraInfo) -> np.ndarray:
    K, D = ci.camera_matrix, np.r_[ci.distortion_coefficients[:5], np.zeros(5)][:5]
    return np.r_[K[0, 0], K[1, 1], K[0, 2], K[1, 2], D]


def _K_D(v: np.ndarray):
    return np.array([[v[0], 0, v[2]], [0, v[1], v[3]], [0, 0, 1.0]]), v[4:9].copy()


def _project(obj, rv, tv, v):
    """Pixels and d(pixels)/d(rvec, tvec, fx, fy, cx, cy, k1, k2, p1, p2, k3)."""
    K, D = _K_D(v)
    p, J = cv2.projectPoints(obj.reshape(-1, 1, 3), rv, tv, K, D)
    return p.reshape(-1, 2), J[:, :15]


class _Problem:
    def __init__(self, views: _Views, free_v: np.ndarray, free_t: np.ndarray,
                 x_full: dict) -> None:
        self.v, self.free_v, self.free_t = views, free_v, free_t
        self.names = views.posed
        self.full = x_full  # intrinsics of both cameras (all 9), for the fixed parts

    # layout: [visible intrinsics (free)] [thermal intrinsics (free)] [rig 6] [6 per posed view]
    def n_params(self) -> int:
        return int(self.free_v.sum() + self.free_t.sum() + 6 + 6 * len(self.names))

    def pack(self, iv, it, rig, poses) -> np.ndarray:
        return np.r_[iv[self.free_v], it[self.free_t], rig,
                     np.concatenate([poses[n] for n in self.names])]

    def unpack(self, x):
        a, b = int(self.free_v.sum()), int(self.free_t.sum())
        iv, it = self.full['v'].copy(), self.full['t'].copy()
        iv[self.free_v], it[self.free_t] = x[:a], x[a:a + b]
        rig = x[a + b:a + b + 6]
        poses = {n: x[a + b + 6 + 6 * k:a + b + 12 + 6 * k] for k, n in enumerate(self.names)}
        return iv, it, rig, poses

    def residuals_and_jacobian(self, x):
        iv, it, rig, poses = self.unpack(x)
        a, b = int(self.free_v.sum()), int(self.free_t.sum())
        res, rows = [], []
        n = self.n_params()
        col0 = {nm: a + b + 6 + 6 * k for k, nm in enumerate(self.names)}
        for nm in self.names:
            pose = poses[nm]
            if nm in self.v.vis:
                d = self.v.vis[nm]
                p, J = _project(d.object_points, pose[:3], pose[3:], iv)
                res.append((p - d.image_points).ravel())
                Jr = np.zeros((J.shape[0], n))
                Jr[:, col0[nm]:col0[nm] + 6] = J[:, :6]
                Jr[:, :a] = J[:, 6:][:, self.free_v]
                rows.append(Jr)
            if nm in self.v.th_only or nm in self.v.joint:
                d = self.v.th[nm]
                if nm in self.v.joint:
                    out = cv2.composeRT(pose[:3], pose[3:], rig[:3], rig[3:])
                    rt, tt = out[0], out[1]
                    dr_r1, dr_t1, dr_r2, dr_t2, dt_r1, dt_t1, dt_r2, dt_t2 = out[2:]
                else:
                    rt, tt = pose[:3], pose[3:]
                p, J = _project(d.object_points, rt, tt, it)
                res.append((p - d.image_points).ravel())
                Jr = np.zeros((J.shape[0], n))
                Jrot, Jtr = J[:, :3], J[:, 3:6]
                c = col0[nm]
                if nm in self.v.joint:
                    Jr[:, c:c + 3] = Jrot @ dr_r1 + Jtr @ dt_r1
                    Jr[:, c + 3:c + 6] = Jrot @ dr_t1 + Jtr @ dt_t1
                    Jr[:, a + b:a + b + 3] = Jrot @ dr_r2 + Jtr @ dt_r2
                    Jr[:, a + b + 3:a + b + 6] = Jrot @ dr_t2 + Jtr @ dt_t2
                else:
                    Jr[:, c:c + 6] = J[:, :6]
                Jr[:, a:a + b] = J[:, 6:][:, self.free_t]
                rows.append(Jr)
        return np.concatenate(res), np.vstack(rows)


class _Memo:
    """least_squares asks for residuals and Jacobian separately; both come from one pass."""

    def __init__(self, fn) -> None:
        self.fn, self.x, self.out = fn, None, None

    def _get(self, x):
        if self.x is None or not np.array_equal(x, self.x):
            self.x, self.out = np.array(x, copy=True), self.fn(x)
        return self.out

    def residuals(self, x):
        return self._get(x)[0]

    def jacobian(self, x):
        return self._get(x)[1]


def _free(model: str) -> np.ndarray:
    free = np.ones(N_INTR, bool)
    if MODELS[model] & cv2.CALIB_FIX_K3:
        free[8] = False
    return free


def _initial_poses(views: _Views, vis: CameraInfo, th: CameraInfo) -> dict[str, np.ndarray]:
    out = {}
    for nm in views.posed:
        d, ci = (views.vis[nm], vis) if nm in views.vis else (views.th[nm], th)
        ok, rv, tv = cv2.solvePnP(d.object_points, d.image_points, ci.camera_matrix,
                                  ci.distortion_coefficients)
        rv, tv = cv2.solvePnPRefineLM(d.object_points, d.image_points, ci.camera_matrix,
                                      ci.distortion_coefficients, rv, tv)
        out[nm] = np.r_[rv.ravel(), tv.ravel()]
    return out


def _views(dv: dict[str, Detection], dt: dict[str, Detection], joint: list[str]) -> _Views:
    """
    Give each view its board poses.

    Joint views keep one pose (board -> visible); every other thermal view gets
    its own (board -> thermal), under a distinct name if the visible camera saw
    that view too.
    """
    joint = sorted(n for n in joint if n in dv and n in dt)
    th = {n: dt[n] for n in joint}
    th_only = []
    for n, d in dt.items():
        if n not in th:
            key = n if n not in dv else f'{n} (thermal)'
            th[key] = d
            th_only.append(key)
    return _Views(dict(dv), th, joint, sorted(th_only))


def solve_joint(dv, dt, joint: list[str], vis: CameraInfo, th: CameraInfo, R, t, models,
                free_intrinsics: bool = True) -> JointResult:
    """
    Solve the least squares over every view.

    ``free_intrinsics=False`` only evaluates the covariance at the given
    solution (intrinsics and rig as they are).
    """
    views = _views(dv, dt, joint)
    iv0, it0 = _intr_vec(vis), _intr_vec(th)
    free_v, free_t = _free(models[0]), _free(models[1])
    prob = _Problem(views, free_v, free_t, {'v': iv0, 't': it0})
    rig0 = np.r_[cv2.Rodrigues(np.asarray(R, float))[0].ravel(), np.asarray(t, float).ravel()]
    poses = _initial_poses(views, vis, th)
    x0 = prob.pack(iv0, it0, rig0, poses)
    if free_intrinsics:
        memo = _Memo(prob.residuals_and_jacobian)
        sol = least_squares(memo.residuals, x0, jac=memo.jacobian, method='lm', x_scale='jac',
                            xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=200)
        x = sol.x
    else:
        x = _refine_poses(prob, x0)
    r, J = prob.residuals_and_jacobian(x)
    iv, it, rig, _ = prob.unpack(x)
    dof = max(len(r) - J.shape[1], 1)
    s2 = float(r @ r) / dof
    cov = np.linalg.pinv(J.T @ J) * s2
    a = int(free_v.sum() + free_t.sum())
    std = np.sqrt(np.clip(np.diag(cov)[a:a + 6], 0, None))
    Kv, Dv = _K_D(iv)
    Kt, Dt = _K_D(it)
    return JointResult(CameraInfo(vis.camera_name, vis.width, vis.height, Kv, Dv),
                       CameraInfo(th.camera_name, th.width, th.height, Kt, Dt),
                       cv2.Rodrigues(rig[:3])[0], rig[3:].copy(),
                       float(np.sqrt(np.mean(r ** 2) * 2)),
                       std[3:], np.degrees(std[:3]))


def _refine_poses(prob: _Problem, x0: np.ndarray) -> np.ndarray:
    """
    Refine the board poses only (intrinsics and rig held).

    So the covariance of a fixed-intrinsics solution is evaluated where its
    residuals are smallest.
    """
    a = int(prob.free_v.sum() + prob.free_t.sum()) + 6
    fixed = x0[:a]

    def fun(y):
        return prob.residuals_and_jacobian(np.r_[fixed, y])[0]

    def jac(y):
        return prob.residuals_and_jacobian(np.r_[fixed, y])[1][:, a:]

    sol = least_squares(fun, x0[a:], jac=jac, method='lm', x_scale='jac', max_nfev=50)
    return np.r_[fixed, sol.x]


def _transfer_rms(names, dv, dt, vis: CameraInfo, th: CameraInfo, R, t) -> list[float]:
    """Squared errors of predicting each view's points in one camera from the other."""
    out: list[float] = []
    Rinv, tinv = R.T, -R.T @ t
    for n in names:
        for a, b, ca, cb, Rab, tab in ((dv[n], dt[n], vis, th, R, t),
                                       (dt[n], dv[n], th, vis, Rinv, tinv)):
            common, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
            if len(common) < 4:
                continue
            ok, rv, tv = cv2.solvePnP(a.object_points, a.image_points, ca.camera_matrix,
                                      ca.distortion_coefficients)
            if not ok:
                continue
            rv, tv = cv2.solvePnPRefineLM(a.object_points, a.image_points, ca.camera_matrix,
                                          ca.distortion_coefficients, rv, tv)
            Rb = Rab @ cv2.Rodrigues(rv)[0]
            tb = Rab @ tv.ravel() + tab
            p, _ = cv2.projectPoints(b.object_points[ib], cv2.Rodrigues(Rb)[0], tb,
                                     cb.camera_matrix,
                                     cb.distortion_coefficients)
            out += list(np.sum((p.reshape(-1, 2) - b.image_points[ib]) ** 2, axis=1))
    return out


def _intrinsics(dets: dict[str, Detection], ci: CameraInfo, model: str) -> CameraInfo:
    obj = [d.object_points.astype(np.float32).reshape(-1, 1, 3) for d in dets.values()]
    img = [d.image_points.astype(np.float32).reshape(-1, 1, 2) for d in dets.values()]
    _, K, D, *_ = calibrate_camera(obj, img, (ci.width, ci.height), MODELS[model], CRITERIA)
    return CameraInfo(ci.camera_name, ci.width, ci.height, K, np.r_[D, np.zeros(5)][:5])


def transfer_heldout(dv, dt, joint: list[str], vis: CameraInfo, th: CameraInfo, models,
                     folds: int = 4) -> dict[str, float]:
    """
    RMS (px) of predicting left-out joint views across the rig, per method.

    Each fold leaves some joint views out of everything (both cameras'
    intrinsics and the rig), fits "fixed intrinsics" (per-camera
    calibration, then ``stereoCalibrate`` with intrinsics fixed) and "joint"
    (that, then :func:`solve_joint`), and predicts the left-out views' points
    in each camera from the other camera's view of the board.
    """
    folds = min(folds, len(joint))
    errs: dict[str, list[float]] = {'fixed intrinsics': [], 'joint': []}
    if folds < 2 or len(joint) < 4:
        return {k: float('nan') for k in errs}
    for f in range(folds):
        test = [n for i, n in enumerate(joint) if i % folds == f]
        train = [n for n in joint if n not in test]
        dv_f = {n: d for n, d in dv.items() if n not in test}
        dt_f = {n: d for n, d in dt.items() if n not in test}
        try:
            vi, ti = _intrinsics(dv_f, vis, models[0]), _intrinsics(dt_f, th, models[1])
            st = calibrate_pair({n: dv_f[n] for n in train}, {n: dt_f[n] for n in train}, vi, ti)
            jr = solve_joint(dv_f, dt_f, st.views, vi, ti, st.R, st.t, models)
        except (cv2.error, np.linalg.LinAlgError, ValueError):
            return {k: float('nan') for k in errs}
        errs['fixed intrinsics'] += _transfer_rms(test, dv, dt, vi, ti, st.R, st.t)
        errs['joint'] += _transfer_rms(test, dv, dt, jr.visible, jr.thermal, jr.R, jr.t)
    return {k: float(np.sqrt(np.mean(v))) if v else float('nan') for k, v in errs.items()}
