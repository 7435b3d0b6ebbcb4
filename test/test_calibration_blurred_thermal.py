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
Issue 11: on blurred thermal boards the project's calibration beats plain OpenCV.

On blurred 16-bit inverted thermal boards, a plain OpenCV pipeline run on the
same captures.

Rig: :mod:`simulation.blurred_rig` (visible 800x600, thermal 640x512 with its
own K, distortion and a baseline with a 2 mm z component; 9x6 chessboard of
6 cm in 20 views; thermal blur sigma 1.1 and 2.0 px on the raw counts). The
far wall is the plane 15 m ahead, judged by the true projection of its
points. Measured (seed 21): plain OpenCV thermal fx +1.39 % / +1.21 %,
far wall far off (its corner labelling and SB's tilt-dependent bias);
ours -0.04 % / -0.04 %, far wall median 0.03 / 0.05 px, p95 0.10 / 0.15 px.
"""
from calibration.boards import parse_board
from calibration.pipeline import calibrate_pairs
import cv2
import numpy as np
import pytest
from ros2_ssvif.camera_info import CameraInfo
from simulation.blurred_rig import (
    blurred_pairs,
    blurred_views,
    BOARD,
    PLANE_DISTANCE,
    plane_misalignment,
)
from simulation.rig import blurred_thermal_rig


SIGMAS = (1.1, 2.0)


def _first_top_left(c: np.ndarray) -> np.ndarray:
    """SB may label a grid from either end; a user pairing two cameras starts both top-left."""
    c = c.reshape(-1, 1, 2)
    return c[::-1].copy() if (c[-1, 0] - c[0, 0]).sum() < 0 else c


def plain_opencv(pairs, board, distance):
    """
    Do what a user does with OpenCV alone.

    findChessboardCornersSB on 8-bit (min-max normalised) images,
    calibrateCamera per camera, stereoCalibrate with the intrinsics fixed, and
    the homography of the plane Z = distance.
    """
    obj = board.object_points().astype(np.float32)
    size_v, size_t = pairs[0][1].shape[1::-1], pairs[0][2].shape[1::-1]
    per = {'v': ([], []), 't': ([], [])}
    joint = ([], [], [])
    for _, vis, th in pairs:
        okv, cv_ = cv2.findChessboardCornersSB(cv2.cvtColor(vis, cv2.COLOR_RGB2GRAY),
                                               board.pattern_size)
        th8 = cv2.normalize(th, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
        okt, ct = cv2.findChessboardCornersSB(th8, board.pattern_size)
        for ok, c, key in ((okv, cv_, 'v'), (okt, ct, 't')):
            if ok:
                per[key][0].append(obj)
                per[key][1].append(_first_top_left(c))
        if okv and okt:
            for lst, val in zip(joint, (obj, _first_top_left(cv_), _first_top_left(ct))):
                lst.append(val)
    _, Kv, Dv, _, _ = cv2.calibrateCamera(*per['v'], size_v, None, None)
    _, Kt, Dt, _, _ = cv2.calibrateCamera(*per['t'], size_t, None, None)
    out = cv2.stereoCalibrate(*joint, Kv, Dv, Kt, Dt, size_v, flags=cv2.CALIB_FIX_INTRINSIC)
    R, T = out[5], out[6].ravel()
    H = np.linalg.inv(Kt @ (R + np.outer(T, [0.0, 0.0, 1.0]) / distance) @ np.linalg.inv(Kv))
    vi = CameraInfo('visible', size_v[0], size_v[1], Kv, Dv.ravel()[:5])
    ti = CameraInfo('thermal', size_t[0], size_t[1], Kt, Dt.ravel()[:5])
    return vi, ti, H / H[2, 2], T


@pytest.fixture(scope='module')
def rig():
    return blurred_thermal_rig()


@pytest.fixture(scope='module')
def views(rig):
    """Return the 20 joint views, rendered once (about 15 s); each sigma senses them anew."""
    return blurred_views(seed=21, rig=rig)


@pytest.fixture(scope='module')
def runs(rig, views, tmp_path_factory):
    """Per sigma: the project's calibration (with report) and the plain OpenCV one."""
    board = parse_board(BOARD)
    out = {}
    for sigma in SIGMAS:
        pairs = blurred_pairs(views, sigma)
        res = calibrate_pairs(pairs, board, tmp_path_factory.mktemp(f'calib_{sigma}'),
                              plane_distance=PLANE_DISTANCE, progress=False)
        out[sigma] = (res, plain_opencv(pairs, board, PLANE_DISTANCE))
    return out


@pytest.mark.accuracy
@pytest.mark.parametrize('sigma', SIGMAS)
def test_thermal_focal_length_beats_plain_opencv(rig, runs, sigma):
    res, (_, plain_t, _, _) = runs[sigma]
    ours = res.registration.thermal.camera_matrix
    err = abs(ours[0, 0] / rig.thermal.fx - 1), abs(ours[1, 1] / rig.thermal.fy - 1)
    plain = abs(plain_t.camera_matrix[0, 0] / rig.thermal.fx - 1)
    assert max(err) <= 0.001, (err, plain)
    assert err[0] < plain


@pytest.mark.accuracy
@pytest.mark.parametrize('sigma', SIGMAS)
def test_far_wall_beats_plain_opencv(rig, runs, sigma):
    res, (pv, pt, pH, _) = runs[sigma]
    reg = res.registration
    ours = plane_misalignment(rig, reg.visible, reg.thermal, reg.homography)
    plain = plane_misalignment(rig, pv, pt, pH)
    assert len(ours) > 800
    med, p95 = np.median(ours), np.percentile(ours, 95)
    assert med <= 0.5 and p95 <= 1.0, (med, p95)
    assert med < np.median(plain) and p95 < np.percentile(plain, 95)


@pytest.mark.accuracy
def test_baseline_and_its_uncertainty(rig, runs):
    """
    The baseline, its z component included, and an honest 1-sigma.

    The issue saw 8 mm for 2 mm; the 1-sigma must be small and honest enough to
    be worth reporting.
    """
    for sigma in SIGMAS:
        res, (_, _, _, plain_T) = runs[sigma]
        t = np.asarray(res.registration.info['t_visible_to_thermal_m'])
        assert np.abs(t - rig.t).max() < 0.0008, (sigma, t, plain_T)
        sd = res.joint.t_std
        assert np.all(sd > 0) and np.all(sd < 0.001)
        text = (res.output_dir / 'report.md').read_text()
        assert 't 1-sigma (mm), from the Jacobian of the joint problem' in text
        assert 'held-out transfer RMS' in text and 'fixed intrinsics' in text
        ho = res.joint_heldout
        better = 'joint' if ho['joint'] < ho['fixed intrinsics'] else 'fixed intrinsics'
        assert res.joint_mode == better


@pytest.mark.accuracy
def test_refined_corners_win_on_held_out_views(runs):
    for sigma in SIGMAS:
        res, _ = runs[sigma]
        for intr in (res.visible, res.thermal):
            ph = intr.points_heldout
            assert ph['kept'] == 'refined' and ph['refined'] < 0.5 * ph['detector'], (sigma, ph)


def test_report_warns_of_a_blurred_board(runs):
    sharp = {}
    for sigma in SIGMAS:
        res, _ = runs[sigma]
        sharp[sigma] = np.median(list(res.thermal.sharpness.values()))
        assert not any('too blurred' in w for w in res.visible.warnings)
        assert np.median(list(res.visible.sharpness.values())) < 3.0
        text = (res.output_dir / 'report.md').read_text()
        assert '- sharpness: median' in text
    # 10-90 % edge rise of a Gaussian is 2.6 sigma, plus the pixel's own width: 3.3 and 5.4 px
    assert 3.0 < sharp[1.1] < 4.0 and 5.0 < sharp[2.0] < 6.0
    assert any('too blurred' in w for w in runs[2.0][0].thermal.warnings)
    assert not any('too blurred' in w for w in runs[1.1][0].thermal.warnings)
