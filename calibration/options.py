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
Everything a calibration takes besides its captures, its board and its output folder.

Why a dataclass: ``calibrate_pairs`` took eighteen keyword arguments and
``calibrate_folders`` passed half of them on by position; the ``calibrate``
command built a dict of them. Now the options, their defaults and their
meaning live here once; the command builds one :class:`CalibrationOptions`
and both functions take it (``options=``), or single changes by keyword
(``calibrate_pairs(pairs, board, plane_distance=15)``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from calibration.errors import CalibrationError


JOINT_MODES = ('auto', 'on', 'off')


@dataclass(frozen=True)
class CalibrationOptions:
    """See the field comments; boards are ``BoardSpec``s or board strings."""

    # -- each sensor's own intrinsic captures (FMB's separate boards) ----------------
    visible_board: Any = None  # board of visible_views (None: the joint board)
    thermal_board: Any = None  # board of thermal_views (None: the joint board)
    visible_views: Sequence | None = None  # (name, image) visible-only captures
    thermal_views: Sequence | None = None  # (name, image) thermal-only captures
    intrinsic_diverse_only: bool = False  # keep only diverse intrinsic views (a bag segment)
    # -- the joint captures -----------------------------------------------------------------
    diverse_only: bool = False  # keep only views that moved (a bag or live stream)
    min_move_px: float = 15.0  # a view is new when the board moved this much
    # -- solving ------------------------------------------------------------------------------
    refine_centres: bool = True  # re-measure centres / corners in unwarps (calibration.refine)
    refine_iterations: int = 10
    joint_refinement: str = 'auto'  # auto (by held-out views) | on | off
    # -- registration ---------------------------------------------------------------------------
    plane_distance: float | None = None  # homography plane (m, inf); None: board corners
    output_size: tuple[int, int] | None = None  # registered (width, height); None: the crop's
    far_pairs: Sequence | None = None  # (name, visible, thermal) at the working distance
    far_board: Any = None  # board in far_pairs (None: the joint board)
    # -- output ---------------------------------------------------------------------------------
    progress: bool = True

    def __post_init__(self) -> None:
        if self.joint_refinement not in JOINT_MODES:
            raise CalibrationError(
                f"joint refinement must be one of {', '.join(JOINT_MODES)}")

    def with_changes(self, **changes) -> 'CalibrationOptions':
        """Return a copy with ``changes``; an unknown name is a TypeError naming it."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown calibration option(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(known))}")
        return dataclasses.replace(self, **changes)


def resolve_options(options: CalibrationOptions | None, changes: dict) -> CalibrationOptions:
    """Return ``options`` (default: the defaults) with the keyword ``changes`` applied."""
    return (options or CalibrationOptions()).with_changes(**changes)


__all__ = ['CalibrationOptions', 'JOINT_MODES', 'resolve_options']
