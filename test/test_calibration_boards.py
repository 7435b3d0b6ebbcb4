import numpy as np
import pytest

from calibration.boards import BoardSpecError, parse_board


@pytest.mark.parametrize("text,kind,n", [
    ("chessboard:9x6:0.04", "chessboard", 54), ("circles:4x3:0.09", "circles", 12),
    ("acircles:4x11:0.02", "acircles", 44), ("charuco:5x7:0.04:0.03:DICT_5X5_100", "charuco", 24),
])
def test_parse_board(text, kind, n):
    b = parse_board(text)
    assert b.kind == kind and len(b.object_points()) == n
    assert parse_board(str(b)) == b


def test_board_geometry_values():
    b = parse_board("chessboard:9x6:0.04")
    assert np.allclose(b.object_points()[10], [0.04, 0.04, 0.0])
    a = parse_board("acircles:4x11:0.02").object_points()
    assert np.allclose(a[4], [0.02, 0.02, 0.0])  # odd rows shift half a period


@pytest.mark.parametrize("bad", [
    "", "square:9x6:0.04", "chessboard:9by6:0.04", "chessboard:9x6:-1",
    "charuco:5x7:0.04:0.05:DICT_5X5_100", "charuco:5x7:0.04:0.03:DICT_NOPE", "circles:1x3:0.1"])
def test_bad_board_specs(bad):
    with pytest.raises(BoardSpecError):
        parse_board(bad)
