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
Calibration board specifications, parsed from short strings.

One string names the board on the command line and in reports, e.g.
``chessboard:9x6:0.04`` (inner corners, square size in metres),
``circles:4x3:0.09[:0.03]`` (centres, spacing[, radius]),
``acircles:4x11:0.02[:r]`` (OpenCV asymmetric grid, half-diagonal spacing)
and ``charuco:5x7:0.04:0.03:DICT_5X5_100`` (squares, square and marker
size, ArUco dictionary).
"""
from __future__ import annotations

from dataclasses import dataclass

from calibration import cv_compat
from calibration.errors import BoardSpecError  # noqa: F401 (public here too)
import cv2
import numpy as np


KINDS = ('chessboard', 'circles', 'acircles', 'charuco')


@dataclass(frozen=True)
class BoardSpec:
    """A planar target: geometry in metres, board frame z = 0."""

    kind: str
    cols: int  # inner corners / circles per row; charuco: squares in x
    rows: int
    spacing: float  # square size or centre distance (metres)
    marker: float = 0.0  # charuco marker side
    dictionary: str = ''  # charuco ArUco dictionary name
    radius: float = 0.0  # circle radius (rendering only)

    def __str__(self) -> str:
        base = f'{self.kind}:{self.cols}x{self.rows}:{self.spacing:g}'
        if self.kind == 'charuco':
            return f'{base}:{self.marker:g}:{self.dictionary}'
        return f'{base}:{self.radius:g}' if self.radius else base

    @property
    def pattern_size(self) -> tuple[int, int]:
        """(cols, rows) as OpenCV's grid finders want it."""
        return (self.cols, self.rows)

    @property
    def circle_radius(self) -> float:
        if self.radius > 0:
            return self.radius
        # a third of the spacing keeps neighbouring blobs apart in blur
        return self.spacing / 3.0 if self.kind == 'circles' else self.spacing / 2.0

    def object_points(self) -> np.ndarray:
        """
        Return all board points (N,3) in the order the detector reports them.

        Charuco: indexed by chessboard-corner id.
        """
        if self.kind == 'charuco':
            return cv_compat.charuco_corners(self.charuco_board())
        i, j = np.meshgrid(np.arange(self.rows), np.arange(self.cols), indexing='ij')
        if self.kind == 'acircles':
            x = (2 * j + i % 2) * self.spacing
        else:
            x = j * self.spacing
        y = i * self.spacing
        return np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1).astype(np.float64)

    def board_extent(self) -> tuple[float, float]:
        """Width and height (metres) of the printed target, margins excluded."""
        if self.kind == 'charuco':
            return self.cols * self.spacing, self.rows * self.spacing
        if self.kind == 'chessboard':
            return (self.cols + 1) * self.spacing, (self.rows + 1) * self.spacing
        pts = self.object_points()
        r = self.circle_radius
        return float(pts[:, 0].max() + 2 * r), float(pts[:, 1].max() + 2 * r)

    def charuco_board(self):
        if self.kind != 'charuco':
            raise BoardSpecError(f'{self} is not a ChArUco board')
        return cv_compat.charuco_board(self.cols, self.rows, self.spacing, self.marker,
                                       self.dictionary)

    @property
    def min_points(self) -> int:
        """Fewest points a view must have to constrain a pose well."""
        return 6 if self.kind == 'charuco' else self.cols * self.rows


_USAGE = ('expected chessboard:COLSxROWS:SQUARE, circles:COLSxROWS:SPACING[:RADIUS], '
          'acircles:COLSxROWS:SPACING[:RADIUS] or charuco:SQX x SQY:SQUARE:MARKER:DICT_NAME')


def parse_board(text: str) -> BoardSpec:
    """Parse a board string; raise :class:`BoardSpecError` with a usage hint."""
    if not isinstance(text, str) or not text.strip():
        raise BoardSpecError(f'empty board spec; {_USAGE}')
    parts = [p.strip() for p in text.strip().split(':')]
    kind = parts[0].lower()
    if kind not in KINDS:
        raise BoardSpecError(f'unknown board kind {parts[0]!r} in {text!r}; {_USAGE}')
    want = {'chessboard': (3, 3), 'circles': (3, 4), 'acircles': (3, 4), 'charuco': (5, 5)}[kind]
    if not want[0] <= len(parts) <= want[1]:
        raise BoardSpecError(f'board spec {text!r} has {len(parts)} fields; {_USAGE}')
    try:
        cols_s, rows_s = parts[1].lower().split('x')
        cols, rows = int(cols_s), int(rows_s)
    except ValueError:
        raise BoardSpecError(f'board size {parts[1]!r} in {text!r} must look like 9x6') from None
    try:
        nums = [float(p) for p in parts[2:4 if kind == 'charuco' else None]]
    except ValueError:
        raise BoardSpecError(f'board sizes in {text!r} must be numbers in metres') from None
    if any(not np.isfinite(v) or v <= 0 for v in nums):
        raise BoardSpecError(f'board sizes in {text!r} must be positive')
    min_dim = 2 if kind == 'charuco' else 2
    if cols < min_dim or rows < min_dim:
        raise BoardSpecError(f'board {text!r} needs at least {min_dim}x{min_dim}')
    if kind == 'charuco':
        marker, dict_name = nums[1], parts[4].upper()
        if not hasattr(cv2, 'aruco'):  # before 4.7 ArUco lives in opencv-contrib only
            raise BoardSpecError(f"{text!r} needs OpenCV's aruco module: install "
                                 f'opencv-contrib-python(-headless), or OpenCV 4.7 or newer')
        if marker >= nums[0]:
            raise BoardSpecError(
                f'ChArUco marker ({marker}) must be smaller than the square ({nums[0]})')
        if not dict_name.startswith('DICT_') or not hasattr(cv2.aruco, dict_name):
            raise BoardSpecError(
                f'unknown ArUco dictionary {parts[4]!r}; use a name like DICT_5X5_100')
        return BoardSpec(kind, cols, rows, nums[0], marker=marker, dictionary=dict_name)
    radius = nums[1] if len(nums) > 1 else 0.0
    if kind == 'circles' and radius and radius * 2 >= nums[0]:
        raise BoardSpecError(f'circle diameter must be below the spacing in {text!r}')
    return BoardSpec(kind, cols, rows, nums[0], radius=radius)
