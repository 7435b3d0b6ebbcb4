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

from calibration.boards import BoardSpecError, parse_board
import numpy as np
import pytest


@pytest.mark.parametrize('text,kind,n', [
    ('chessboard:9x6:0.04', 'chessboard', 54), ('circles:4x3:0.09', 'circles', 12),
    ('acircles:4x11:0.02', 'acircles', 44), ('charuco:5x7:0.04:0.03:DICT_5X5_100', 'charuco', 24),
])
def test_parse_board(text, kind, n):
    b = parse_board(text)
    assert b.kind == kind and len(b.object_points()) == n
    assert parse_board(str(b)) == b


def test_board_geometry_values():
    b = parse_board('chessboard:9x6:0.04')
    assert np.allclose(b.object_points()[10], [0.04, 0.04, 0.0])
    a = parse_board('acircles:4x11:0.02').object_points()
    assert np.allclose(a[4], [0.02, 0.02, 0.0])  # odd rows shift half a period


@pytest.mark.parametrize('bad', [
    '', 'square:9x6:0.04', 'chessboard:9by6:0.04', 'chessboard:9x6:-1',
    'charuco:5x7:0.04:0.05:DICT_5X5_100', 'charuco:5x7:0.04:0.03:DICT_NOPE', 'circles:1x3:0.1'])
def test_bad_board_specs(bad):
    with pytest.raises(BoardSpecError):
        parse_board(bad)
