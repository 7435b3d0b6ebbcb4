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
Board detections gathered from every capture set of one calibration.

A calibration sees up to three sets (FMB, SegMiF section 4): each sensor's
own intrinsic captures, on a board of its own, and the joint captures of
one board both cameras see. Detections are kept per camera under unique
view names (intrinsic views carry a prefix, so they never pair with a joint
view), with the grey images the point refinement needs and the first view
of each kind for the report's figures.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from calibration.boards import BoardSpec
from calibration.detect import detect_board, Detection
from calibration.errors import CalibrationError
from calibration.normalize import to_gray
from calibration.refine import REFINABLE
import numpy as np
from tqdm import tqdm


CAMERAS = ('visible', 'thermal')


def is_new_view(det: Detection, kept: list[Detection], min_move_px: float) -> bool:
    """Tell whether a view adds information: only if the board moved since every kept view."""
    for k in kept:
        if len(k) == len(det) and np.array_equal(k.ids, det.ids):
            if np.median(np.linalg.norm(k.image_points - det.image_points, axis=1)) < min_move_px:
                return False
    return True


def _per_camera(kind) -> dict:
    return {c: kind() for c in CAMERAS}


@dataclass
class Captures:
    """Detections per camera (view name -> Detection) and what goes with them."""

    refine: bool = True
    dets: dict[str, dict[str, Detection]] = field(default_factory=lambda: _per_camera(dict))
    boards: dict[str, dict[str, BoardSpec]] = field(default_factory=lambda: _per_camera(dict))
    grays: dict[str, dict[str, np.ndarray]] = field(default_factory=lambda: _per_camera(dict))
    missing: dict[str, list[str]] = field(default_factory=lambda: _per_camera(list))
    sizes: dict[str, set] = field(default_factory=lambda: _per_camera(set))
    first: dict = field(default_factory=dict)  # camera / "pair" -> first view with a board
    joint_pairs: int = 0

    def _size(self, cam: str, img: np.ndarray) -> None:
        self.sizes[cam].add((img.shape[1], img.shape[0]))
        if len(self.sizes[cam]) > 1:
            raise CalibrationError(f'{cam} images have mixed sizes {sorted(self.sizes[cam])}; '
                                   f'one camera gives one size')

    def _keep(self, cam: str, name: str, det: Detection | None, img: np.ndarray,
              board: BoardSpec) -> None:
        if det is None:
            self.missing[cam].append(name)
            return
        self.dets[cam][name] = det
        self.boards[cam][name] = board
        self.first.setdefault(cam, (name, img))
        if self.refine and board.kind in REFINABLE:
            self.grays[cam][name] = to_gray(img)

    def add_joint(self, pairs: Iterable[tuple], board: BoardSpec, diverse_only: bool = False,
                  min_move_px: float = 15.0, progress: bool = True) -> None:
        """(name, visible, thermal[, det_v, det_t]) of ``board``, seen by both cameras."""
        kept: list[Detection] = []
        bar = tqdm(pairs, desc='detecting boards', unit='pair', disable=not progress)
        for name, vis, th, *found in bar:
            self._size('visible', vis)
            self._size('thermal', th)
            self.joint_pairs += 1
            a, b = found if found else (detect_board(vis, board), detect_board(th, board))
            if diverse_only and a is not None and not is_new_view(a, kept, min_move_px):
                continue
            if a is not None:
                kept.append(a)
            self._keep('visible', name, a, vis, board)
            self._keep('thermal', name, b, th, board)
            if a is not None and b is not None:
                self.first.setdefault('pair', (name, vis, th))

    def add_single(self, cam: str, views: Iterable[tuple[str, np.ndarray]], board: BoardSpec,
                   diverse_only: bool = False, min_move_px: float = 15.0,
                   progress: bool = True) -> int:
        """One camera's own intrinsic captures of ``board``; returns how many views were read."""
        kept: list[Detection] = []
        n = 0
        bar = tqdm(views, desc=f'detecting {cam} boards', unit='view', disable=not progress)
        for name, img in bar:
            self._size(cam, img)
            n += 1
            det = detect_board(img, board)
            if diverse_only and det is not None and not is_new_view(det, kept, min_move_px):
                continue
            if det is not None:
                kept.append(det)
            self._keep(cam, f'{cam}-intrinsics/{name}', det, img, board)
        if n == 0:
            raise CalibrationError(f'the {cam} intrinsic captures hold no images')
        return n

    def check(self, board: BoardSpec) -> None:
        """Refuse calibrations that cannot work, with what was tried."""
        if not any(self.sizes[c] for c in CAMERAS) or self.joint_pairs == 0:
            raise CalibrationError('no image pairs to calibrate from')
        if not any(self.dets[c] for c in CAMERAS):
            raise CalibrationError(
                f'the board {board} was found in none of the {self.joint_pairs} pairs')
        for cam in CAMERAS:
            if not self.dets[cam]:
                raise CalibrationError(
                    f'the board was found in no {cam} image (tried {len(self.missing[cam])})')
