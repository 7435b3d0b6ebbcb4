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

from calibration.cli import main as calibrate_main
from calibration.register_cli import main as register_main
import cv2
import numpy as np
import pytest


def _one_line_error(capsys, rc):
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if 'detecting boards' not in line and 'registering' not in line]
    assert rc != 0
    assert len(err) == 1 and 'error' in err[0] and 'Traceback' not in err[0]
    return err[0]


def _dirs(tmp_path):
    (tmp_path / 'v').mkdir()
    (tmp_path / 't').mkdir()
    return tmp_path / 'v', tmp_path / 't'


def test_empty_folder(tmp_path, capsys):
    v, t = _dirs(tmp_path)
    rc = calibrate_main(['--visible', str(v), '--thermal', str(t), '--board',
                         'chessboard:9x6:0.04', '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'no images' in _one_line_error(capsys, rc)


def test_bad_board(tmp_path, capsys):
    v, t = _dirs(tmp_path)
    rc = calibrate_main(['--visible', str(v), '--thermal', str(t), '--board', 'hexboard:9x6:0.04',
                         '--output', str(tmp_path / 'o')])
    assert 'board' in _one_line_error(capsys, rc)


def test_no_board_anywhere(tmp_path, capsys):
    v, t = _dirs(tmp_path)
    for i in range(2):
        cv2.imwrite(str(v / f'a{i}.png'), np.full((60, 80, 3), 100, np.uint8))
        cv2.imwrite(str(t / f'a{i}.png'), np.full((64, 80), 3000, np.uint16))
    rc = calibrate_main(['--visible', str(v), '--thermal', str(t), '--board',
                         'chessboard:9x6:0.04', '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'found in none' in _one_line_error(capsys, rc)


def test_mixed_sizes(tmp_path, capsys):
    v, t = _dirs(tmp_path)
    cv2.imwrite(str(v / 'a.png'), np.zeros((60, 80, 3), np.uint8))
    cv2.imwrite(str(v / 'b.png'), np.zeros((70, 80, 3), np.uint8))
    for n in 'ab':
        cv2.imwrite(str(t / f'{n}.png'), np.zeros((64, 80), np.uint16))
    rc = calibrate_main(['--visible', str(v), '--thermal', str(t), '--board',
                         'chessboard:9x6:0.04', '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'mixed sizes' in _one_line_error(capsys, rc)


def test_unreadable_file(tmp_path, capsys):
    v, t = _dirs(tmp_path)
    (v / 'a.png').write_bytes(b'not a png')
    (t / 'a.png').write_bytes(b'not a png')
    rc = calibrate_main(['--visible', str(v), '--thermal', str(t), '--board',
                         'chessboard:9x6:0.04', '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'cannot read' in _one_line_error(capsys, rc)


def test_register_missing_calibration(tmp_path, capsys):
    img = tmp_path / 'x.png'
    cv2.imwrite(str(img), np.zeros((10, 10), np.uint8))
    rc = register_main(['--calibration', str(tmp_path / 'nope'), '--visible', str(img),
                        '--thermal', str(img), '--output', str(tmp_path / 'o')])
    assert 'not found' in _one_line_error(capsys, rc)


@pytest.mark.parametrize('arg', ['--plane-distance=-3', '--output-size=800by600'])
def test_bad_numbers_exit_nonzero(tmp_path, arg):
    with pytest.raises(SystemExit) as exc:
        calibrate_main(['--visible', 'a', '--thermal', 'b', '--board', 'chessboard:9x6:0.04',
                        '--output', 'o', arg])
    assert exc.value.code == 2


def test_two_sources_is_one_line(tmp_path, capsys):
    rc = calibrate_main(['--bag', str(tmp_path / 'b'), '--live', '--board', 'circles:4x3:0.09',
                         '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'one source' in _one_line_error(capsys, rc)


def test_bag_not_found_is_one_line(tmp_path, capsys):
    rc = calibrate_main(['--bag', str(tmp_path / 'nope'), '--board', 'circles:4x3:0.09',
                         '--output', str(tmp_path / 'o'), '--quiet'])
    assert 'not found' in _one_line_error(capsys, rc)
