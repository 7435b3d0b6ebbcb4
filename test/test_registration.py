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

import numpy as np
import pytest
from ros2_ssvif.camera_info import CameraInfo, CameraInfoError, load_camera_info, save_camera_info
from ros2_ssvif.registration import (
    load_registration,
    register_pair_per_frame,
    Registration,
    RegistrationError,
)
from simulation.rig import default_rig
import yaml


@pytest.fixture(scope='module')
def rig():
    return default_rig()


@pytest.fixture(scope='module')
def truth(rig):
    """Return the registration the calibration should find, from the known rig (plane at 10 m)."""
    H = rig.plane_homography_thermal_to_visible(10.0)
    return Registration(
        rig.visible.camera_info(),
        rig.thermal.camera_info(),
        H,
        (40, 30, 560, 420),
        (640, 480),
        {'plane_distance': 10.0},
    )


def plane_points(rig, z=10.0, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return np.c_[rng.uniform(-4, 4, n), rng.uniform(-2.5, 2.5, n), np.full(n, z)]


def test_points_on_the_plane_land_together(rig, truth):
    P = plane_points(rig)
    pv = rig.visible.project(P)
    pt = rig.thermal.project(rig.to_thermal(P))
    err = np.linalg.norm(truth.visible_raw_to_output(pv) - truth.thermal_raw_to_output(pt), axis=1)
    assert err.max() < 1e-3


def test_points_off_the_plane_show_the_expected_parallax(rig, truth):
    P = plane_points(rig, z=3.0)
    pv, pt = rig.visible.project(P), rig.thermal.project(rig.to_thermal(P))
    err = np.linalg.norm(truth.visible_raw_to_output(pv) - truth.thermal_raw_to_output(pt), axis=1)
    # baseline 12 cm, f ~520 px, 3 m vs 10 m: ~ 520*0.12*(1/3-1/10) = 14.6 px (crop scale ~1.14)
    assert 10.0 < np.median(err) < 20.0


def test_maps_move_a_hot_spot_to_where_the_points_say(rig, truth):
    maps = truth.build_maps()
    P = np.array([[1.0, 0.5, 10.0]])
    pt = rig.thermal.project(rig.to_thermal(P))[0]
    thermal = np.zeros((512, 640), np.uint16)
    x, y = int(round(pt[0])), int(round(pt[1]))
    thermal[y - 3:y + 4, x - 3:x + 4] = 40000
    out = maps.register_thermal(thermal)
    assert out.dtype == np.uint16 and out.shape == (480, 640)
    ys, xs = np.nonzero(out > 20000)
    centre = np.array([xs.mean(), ys.mean()])
    expect = truth.thermal_raw_to_output(np.array([[x, y]], float))[0]
    assert np.linalg.norm(centre - expect) < 0.5


def test_remap_tables_equal_the_per_frame_path(rig, truth):
    rng = np.random.default_rng(3)
    vis = cv2_blur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    thr = cv2_blur(rng.integers(0, 255, (512, 640), dtype=np.uint8))
    a_v, a_t = truth.build_maps().register_pair(vis, thr)
    b_v, b_t = register_pair_per_frame(truth, vis, thr)
    inner = (slice(20, -20), slice(20, -20))
    # two bilinear resamplings vs one: small differences on smooth images only
    assert np.abs(a_v[inner].astype(int) - b_v[inner]).mean() < 2.0
    assert np.abs(a_t[inner].astype(int) - b_t[inner]).mean() < 2.0


def cv2_blur(a):
    import cv2

    return cv2.GaussianBlur(a, (0, 0), 3)


def test_file_round_trip_and_errors(tmp_path, truth):
    p = tmp_path / 'registration.yaml'
    truth.save(p)
    back = load_registration(p)
    assert np.allclose(back.homography, truth.homography) and back.crop == truth.crop
    assert back.info['plane_distance'] == 10.0
    with pytest.raises(RegistrationError, match='not found'):
        load_registration(tmp_path / 'missing.yaml')
    (tmp_path / 'corrupt.yaml').write_text('format: [unclosed')
    with pytest.raises(RegistrationError, match='cannot read'):
        load_registration(tmp_path / 'corrupt.yaml')
    d = yaml.safe_load(p.read_text())
    d['homography_thermal_to_visible'] = [0.0] * 9
    (tmp_path / 'singular.yaml').write_text(yaml.safe_dump(d))
    with pytest.raises(RegistrationError, match='singular'):
        load_registration(tmp_path / 'singular.yaml')
    d['format'] = 'something_else'
    (tmp_path / 'other.yaml').write_text(yaml.safe_dump(d))
    with pytest.raises(RegistrationError, match='not a ros2_ssvif/registration'):
        load_registration(tmp_path / 'other.yaml')


def test_wrong_input_size_is_a_clear_error(truth):
    maps = truth.build_maps()
    with pytest.raises(
        RegistrationError, match='thermal image is 320x256 but the calibration is for 640x512'
    ):
        maps.register_thermal(np.zeros((256, 320), np.uint16))


def test_camera_info_file_matches_camera_calibration_parsers(tmp_path, rig):
    info = rig.thermal.camera_info()
    save_camera_info(info, tmp_path / 'thermal.yaml')
    d = yaml.safe_load((tmp_path / 'thermal.yaml').read_text())
    assert set(d) == {
        'image_width',
        'image_height',
        'camera_name',
        'camera_matrix',
        'distortion_model',
        'distortion_coefficients',
        'rectification_matrix',
        'projection_matrix',
    }
    assert d['camera_matrix']['rows'] == 3 and d['camera_matrix']['cols'] == 3
    assert d['distortion_coefficients']['rows'] == 1 and d['distortion_coefficients']['cols'] == 5
    assert d['projection_matrix']['cols'] == 4
    back = load_camera_info(tmp_path / 'thermal.yaml')
    assert np.allclose(back.camera_matrix, info.camera_matrix)
    with pytest.raises(CameraInfoError, match='not found'):
        load_camera_info(tmp_path / 'nope.yaml')
    with pytest.raises(CameraInfoError, match='positive focal'):
        CameraInfo('x', 10, 10, np.zeros((3, 3)), np.zeros(5))


# -- bad files: one readable RegistrationError, never another exception type ----------------------
def _bad_file(tmp_path, truth, name, edit):
    d = yaml.safe_load(yaml.safe_dump(truth.to_dict()))
    edit(d)
    p = tmp_path / f'{name}.yaml'
    p.write_text(yaml.safe_dump(d))
    return p


def _set(path, value):
    def edit(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize(
    'name,edit,text',
    [
        ('version_list', _set(['version'], [1]), 'version'),
        ('version_text', _set(['version'], 'one'), 'version'),
        ('visible_text', _set(['visible'], 'abc'), 'visible'),
        (
            'nan_distortion',
            _set(['thermal', 'distortion_coefficients', 'data'], [float('nan'), 0, 0, 0, 0]),
            'finite',
        ),
        ('crop_outside', _set(['crop', 'x'], 500.0), 'crop'),
        ('crop_negative', _set(['crop', 'y'], -200.0), 'crop'),
        ('output_huge', _set(['output', 'width'], 10**6), 'output size'),
        ('output_text', _set(['output', 'height'], 'tall'), 'output'),
        (
            'homography_short',
            _set(['homography_thermal_to_visible'], [1.0, 0.0, 0.0]),
            'homography',
        ),
        (
            'homography_nan',
            _set(['homography_thermal_to_visible'], [float('nan')] * 9),
            'homography',
        ),
        ('top_level_list', lambda d: d.clear(), 'format'),
        ('k_text', _set(['visible', 'camera_matrix', 'data'], 'abc'), 'visible'),
        ('width_bool', _set(['visible', 'image_width'], True), 'visible'),
    ],
)
def test_bad_registration_files_raise_one_readable_error(tmp_path, truth, name, edit, text):
    """
    Defects: bad registration files loaded fine or killed the node.

    `version: [1]` (TypeError killed the node), `visible: abc` (AttributeError), NaN
    distortion and a crop outside the image loaded fine and gave black frames.
    """
    p = _bad_file(tmp_path, truth, name, edit)
    with pytest.raises(RegistrationError, match=text) as info:
        load_registration(p)
    assert '\n' not in str(info.value)


def test_a_list_or_scalar_file_is_not_a_registration(tmp_path):
    for i, text in enumerate(('- 1\n- 2\n', '42\n', '')):
        p = tmp_path / f'f{i}.yaml'
        p.write_text(text)
        with pytest.raises(RegistrationError, match='not a ros2_ssvif/registration'):
            load_registration(p)


def test_fused_image_camera_matrix_projects_like_the_registered_image(rig, truth):
    """K of the fused image: the visible camera through undistortion, crop and resize; D = 0."""
    K = truth.output_camera_matrix()
    P = plane_points(rig, z=8.0)
    raw = rig.visible.project(P)  # distorted raw visible pixels
    expect = truth.visible_raw_to_output(raw)
    xyz = P @ np.eye(3).T
    uvw = xyz @ K.T
    got = uvw[:, :2] / uvw[:, 2:3]
    assert np.abs(got - expect).max() < 1e-3
    # hand check of the scale: crop 560x420 -> 640x480 multiplies fx by 640/560
    assert K[0, 0] == pytest.approx(rig.visible.camera_info().camera_matrix[0, 0] * 640 / 560)
