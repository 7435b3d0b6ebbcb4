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
FMB's separate boards (issue 11), end to end through ``calibrate``.

Each sensor calibrated on its own board (visible from a folder, thermal from a
segment of a bag), the pair on one joint board, end to end through
``calibrate``; mixing boards by index refused.

Rig: :func:`simulation.rig.blurred_thermal_rig`, thermal blur sigma 1.1 px.
Visible intrinsics: chessboard 8x6 of 4.5 cm, 12 views; thermal intrinsics:
circle grid 7x5, 10 cm, 12 views in the bag segment plus 3 outside it; joint:
chessboard 9x6 of 6 cm, 8 views; far pair: chessboard 9x6 of 50 cm at 15 m.
"""
from calibration.boards import parse_board
from calibration.cli import main as calibrate_main
from calibration.intrinsic_sources import parse_segment, read_intrinsic_views
from calibration.intrinsics import CalibrationError
from calibration.live import collect_live_views
from calibration.pipeline import calibrate_pairs
import cv2
import numpy as np
import pytest
from ros2_ssvif.bag_io import BagWriter
from ros2_ssvif.camera_info import load_camera_info
from ros2_ssvif.image_codec import fill_image_msg
from ros2_ssvif.registration import load_registration
from simulation.blurred_rig import (
    blurred_pairs,
    blurred_views,
    BOARD,
    FAR_BOARD,
    far_board_pair,
    PLANE_DISTANCE,
    plane_misalignment,
)
from simulation.boards import render_intrinsic_captures, write_images
from simulation.rig import blurred_thermal_rig
from simulation.sensors import ThermalSensor


VIS_BOARD = 'chessboard:8x6:0.045'
TH_BOARD = 'circles:7x5:0.1:0.03'
TOPIC = '/thermal/image_raw'
SEGMENT = (1.0, 7.0)  # seconds from the topic's first stamp


def _write_thermal_bag(path, frames):
    """Frames 0.5 s apart: two before the segment, twelve in it, one after."""
    stamps = [0.0, 0.5] + [1.0 + 0.5 * k for k in range(12)] + [9.0]
    order = [12, 13] + list(range(12)) + [14]
    with BagWriter(path, 'sqlite3') as w:
        Header = w.msg_class('std_msgs/msg/Header')
        Time = w.msg_class('builtin_interfaces/msg/Time')
        for s, i in zip(stamps, order):
            t = 50.0 + s
            hdr = Header(stamp=Time(sec=int(t), nanosec=int(round((t % 1) * 1e9))),
                         frame_id='thermal')
            msg = fill_image_msg(w.empty_image(hdr), frames[i], 'mono16')
            msg.data = np.frombuffer(msg.data, np.uint8)
            w.write(TOPIC, 'sensor_msgs/msg/Image', int(t * 1e9), msg)


def _segment(root) -> str:
    return f"{root / 'thermal_bag'}@{SEGMENT[0]}:{SEGMENT[1]}"


@pytest.fixture(scope='module')
def separate(tmp_path_factory):
    """Write the captures on disk and run ``calibrate`` once over them (about 40 s)."""
    root = tmp_path_factory.mktemp('fmb')
    rig = blurred_thermal_rig()
    vis = render_intrinsic_captures(rig, VIS_BOARD, 'visible', 12, seed=31, dist_range=(0.6, 1.5))
    write_images(root / 'visible_intrinsics', [img for img, _ in vis])
    th = render_intrinsic_captures(rig, TH_BOARD, 'thermal', 15, seed=32, dist_range=(1.0, 2.5),
                                   sensor=ThermalSensor(1.1))
    _write_thermal_bag(root / 'thermal_bag', [img for img, _ in th])
    joint = blurred_pairs(blurred_views(seed=33, n_views=8, rig=rig), 1.1)
    write_images(root / 'joint/visible', [v for _, v, _ in joint])
    write_images(root / 'joint/thermal', [t for _, _, t in joint])
    fv, ft, _ = far_board_pair(rig)
    write_images(root / 'far', [fv, ft], prefix='far')
    argv = ['--visible', str(root / 'joint/visible'), '--thermal', str(root / 'joint/thermal'),
            '--board', BOARD,
            '--visible-board', VIS_BOARD, '--visible-intrinsics', str(root / 'visible_intrinsics'),
            '--thermal-board', TH_BOARD, '--thermal-intrinsics', _segment(root),
            '--plane-distance', str(PLANE_DISTANCE),
            '--far-pair', str(root / 'far/far_00.png'), str(root / 'far/far_01.png'),
            '--far-board', FAR_BOARD, '--output', str(root / 'out'), '--quiet']
    rc = calibrate_main(argv)
    return rc, rig, root


@pytest.mark.accuracy
def test_separate_boards_end_to_end(separate, capsys):
    rc, rig, root = separate
    assert rc == 0, capsys.readouterr().err
    reg = load_registration(root / 'out/registration.yaml')
    info = reg.info
    boards = (info['board'], info['visible_board'], info['thermal_board'])
    assert boards == (BOARD, VIS_BOARD, str(parse_board(TH_BOARD)))
    # thermal: (most of) the twelve views inside the bag segment plus the joint views; the three
    # outside it are not read (test_bag_segment_reads_only_its_window)
    n_joint = info['views']['joint']
    assert 6 <= n_joint <= 8 and 10 + n_joint <= info['views']['thermal'] <= 12 + n_joint
    assert info['views']['visible'] == 12 + 8
    for cam, ci in ((rig.visible, load_camera_info(root / 'out/visible.yaml')),
                    (rig.thermal, load_camera_info(root / 'out/thermal.yaml'))):
        K = ci.camera_matrix
        err = abs(K[0, 0] / cam.fx - 1), abs(K[1, 1] / cam.fy - 1)
        assert max(err) < 0.002, (cam.name, K)
    assert np.abs(np.asarray(info['t_visible_to_thermal_m']) - rig.t).max() < 0.001
    e = plane_misalignment(rig, reg.visible, reg.thermal, reg.homography)
    assert np.median(e) <= 0.5 and np.percentile(e, 95) <= 1.0


@pytest.mark.accuracy
def test_report_measures_the_far_pair(separate):
    """The registered far board's corners line up where it matters (15 m)."""
    rc, rig, root = separate
    text = (root / 'out/report.md').read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith('- far_00 / far_01:'))
    med = float(line.split('median ')[1].split(',')[0])
    p95 = float(line.split('p95 ')[1].split(',')[0])
    assert med <= 0.5 and p95 <= 1.0, line
    assert 'board at 14.' in line or 'board at 15.' in line
    assert '## measured alignment at the working distance' in text


def test_bag_segment_reads_only_its_window(separate):
    _, _, root = separate
    names = [n for n, _ in read_intrinsic_views(_segment(root), TOPIC)]
    assert names[0] == 't00001.000' and names[-1] == 't00006.500' and len(names) == 12
    assert len(list(read_intrinsic_views(str(root / 'thermal_bag'), TOPIC))) == 15
    assert parse_segment('drive@:30')[1:] == (None, 30.0)
    with pytest.raises(CalibrationError, match='BAG@START:END'):
        parse_segment('drive@a:b')


def _one_line_error(capsys, rc):
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if 'detecting' not in ln]
    assert rc == 2 and len(err) == 1
    assert err[0].startswith('calibrate: error') and 'Traceback' not in err[0]
    return err[0]


@pytest.mark.parametrize('flag', ['--thermal-board', '--visible-board'])
def test_mixed_boards_by_index_are_refused(tmp_path, capsys, flag):
    """
    A sensor board different from the joint board needs that sensor's own captures.

    Without them, it would pair two boards' points by index.
    """
    for cam in ('v', 't'):
        (tmp_path / cam).mkdir()
    cv2.imwrite(str(tmp_path / 'v/a.png'), np.zeros((60, 80, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 't/a.png'), np.zeros((64, 80), np.uint16))
    rc = calibrate_main(['--visible', str(tmp_path / 'v'), '--thermal', str(tmp_path / 't'),
                         '--board', 'chessboard:9x6:0.06', flag, 'circles:7x5:0.1',
                         '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'cannot be paired by index' in _one_line_error(capsys, rc)
    assert not (tmp_path / 'o').exists()


def test_mixed_boards_refused_by_library_and_live():
    with pytest.raises(CalibrationError, match='by index'):
        calibrate_pairs([], 'chessboard:9x6:0.06', thermal_board='circles:7x5:0.1')
    with pytest.raises(CalibrationError, match='by index'):  # before any ROS import
        collect_live_views(parse_board('chessboard:9x6:0.06'), parse_board('chessboard:8x6:0.06'))


def test_missing_intrinsic_captures_is_one_line(tmp_path, capsys):
    rc = calibrate_main(['--visible', str(tmp_path), '--thermal', str(tmp_path),
                         '--board', 'chessboard:9x6:0.06', '--thermal-intrinsics',
                         str(tmp_path / 'nope@0:5'), '--output', str(tmp_path / 'o')])
    assert 'intrinsic captures not found' in _one_line_error(capsys, rc)
