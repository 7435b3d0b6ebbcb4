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
The root of every error this project raises on purpose, and the one ``ConfigError``.

Why one root: a command must tell "the user gave something we cannot
use" (one line, a documented exit code) from a defect (a traceback). Every
room's own errors (registration, bag, model, calibration, dataset,
checkpoint, ...) derive from :class:`SsvifError`, so
:func:`ros2_ssvif.cli.run_command` catches them all with one name. They
keep their standard base too (``ValueError`` for bad input,
``RuntimeError`` for a failed operation), so older ``except ValueError``
code still catches them.

``exit_code`` is the command's exit status for the error (2: bad input,
the documented default of every tool; ``TrainingDiverged`` says 3), and
``label`` the word after the command's name in its one line.

The runtime sits on the ground floor, so the root lives here and every
other room imports it from here.
"""
from __future__ import annotations


class SsvifError(Exception):
    """An error a user can act on: printed as one line by every command."""

    exit_code = 2
    label = 'error'


class ConfigError(SsvifError, ValueError):
    """A configuration value, file or override is invalid; the message names the key."""


__all__ = ['ConfigError', 'SsvifError']
