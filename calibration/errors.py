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
The calibration package's errors, in one place under the project's root error.

Why a module of its own: ``CalibrationError`` used to live in
``intrinsics.py`` and every other calibration module imported it from
there, and the board-string error stood apart with no common base. Both
derive from :class:`ros2_ssvif.errors.SsvifError`, so ``calibrate`` and
``register`` report them through the one command runner (one line, exit 2).
``intrinsics`` and ``boards`` still export their names.
"""
from __future__ import annotations

from ros2_ssvif.errors import SsvifError


class CalibrationError(SsvifError, ValueError):
    """The data cannot give a trustworthy calibration; the text says why."""


class BoardSpecError(CalibrationError):
    """A board string cannot be understood; the text says what to write."""


__all__ = ['BoardSpecError', 'CalibrationError']
