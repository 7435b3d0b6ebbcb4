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
One runner for every command: an error is one line and a documented exit code.

Why: seventeen commands each caught their own tuple of exceptions, printed
them their own way and picked their exit codes; a new command copied one of
them. :func:`run_command` is the one copy. Exit codes (README):

====  =================================================================
0     done
1     a check found a problem (``calibrate --check``; the command returns it)
2     the input cannot be used: any :class:`ros2_ssvif.errors.SsvifError`
      (``exit_code``), ``OSError``, ``ValueError`` and what the command adds
3     training diverged (``TrainingDiverged.exit_code``)
130   Ctrl-C (``interrupted``, with the command's note)
128+N a signal N the command asked to leave on (SIGTERM 143, SIGHUP 129)
====  =================================================================

The line is ``PROG: error: MESSAGE``, or ``PROG: MESSAGE`` for the tools
whose documented form has no ``error:`` (``plain``: the runtime's tools,
``ssvif_export``, ``ssvif_train_segmenter``, ``ssvif_make_labels``); an error
with its own ``label`` (``training diverged``) says that word instead.

Shared argparse pieces live here too: :func:`add_thermal_argument` (the
thermal source is ``--thermal`` in every command, ``--ir`` its alias),
:func:`add_set_argument` (``--set KEY=VALUE`` overrides) and the types
:func:`image_size`, :func:`positive_float`, :func:`whole_number`.
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
import math
import signal
import sys
from typing import Callable

from ros2_ssvif.errors import SsvifError


class Terminated(BaseException):
    """
    SIGTERM or SIGHUP arrived: leave like Ctrl-C (the output is removed on the way out).

    A BaseException, as KeyboardInterrupt is: the signal lands anywhere, and
    the ``except Exception`` that turns a reader's failure into "cannot read
    bag" or counts a garbled message must not swallow it (seen in CI: a
    SIGTERM during a bag read exited 2 as "cannot read bag ...: 15").
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


@contextmanager
def terminate_on(*signums):
    """Raise :class:`Terminated` in the main thread on these signals, while inside."""
    def handler(signum, frame):
        raise Terminated(signum)

    previous = {}
    for sig in signums:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread (an embedding program): leave it
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def one_line(exc: BaseException) -> str:
    """Return the error's message on one line (a KeyError's without its quotes)."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return ' '.join(str(text).split()) or type(exc).__name__


def say(prog: str, message: str) -> None:
    """Print ``PROG: message`` on stderr."""
    print(f'{prog}: {message}', file=sys.stderr)


def run_command(prog: str, body: Callable[[], int | None], *, errors: tuple = (),
                plain: bool = False, interrupted: str = '', signals: tuple = (),
                missing_extra: str = '') -> int:
    """
    Run a command's ``body`` and return its exit code (module docstring).

    ``errors``: exception types the command also reports as one line (exit
    2) beyond SsvifError, OSError and ValueError; ``interrupted``: a note
    after "interrupted" / "terminated (SIG...)"; ``signals``: leave on these
    like Ctrl-C; ``missing_extra``: an ImportError means this pip extra is
    not installed (``training`` on a vehicle).
    """
    caught = (SsvifError, OSError, ValueError) + tuple(errors)
    note = f'; {interrupted}' if interrupted else ''
    try:
        with terminate_on(*signals):
            rc = body()
    except Terminated as exc:
        say(prog, f'terminated ({exc.name}){note}')
        return 128 + exc.signum
    except KeyboardInterrupt:
        say(prog, f'interrupted{note}')
        return 130
    except ImportError as exc:
        if not missing_extra and not isinstance(exc, caught):
            raise
        if missing_extra:
            say(prog, f'missing {missing_extra} dependency ({exc}); install the '
                      f"'{missing_extra}' extra")
        else:
            say(prog, f'error: {one_line(exc)}' if not plain else one_line(exc))
        return 2
    except caught as exc:
        label = getattr(exc, 'label', 'error')
        say(prog, one_line(exc) if plain and label == 'error' else f'{label}: {one_line(exc)}')
        return int(getattr(exc, 'exit_code', 2))
    return 0 if rc is None else int(rc)


# -- shared argparse pieces ----------------------------------------------------------
def add_thermal_argument(parser, help: str, **kwargs):  # noqa: A002 (argparse's word)
    """Add ``--thermal`` (``--ir`` kept as its alias); the value is ``args.thermal``."""
    return parser.add_argument('--thermal', '--ir', dest='thermal', help=help, **kwargs)


def add_set_argument(parser, help: str, flag: str = '--set',  # noqa: A002 (argparse's word)
                     dest: str = 'overrides'):
    """Add a repeatable ``--set KEY=VALUE`` (dotted config overrides; values parsed as YAML)."""
    return parser.add_argument(flag, dest=dest, action='append', default=[], metavar='KEY=VALUE',
                               help=help)


def parse_size(text: str, what: str = 'size') -> tuple[int, int]:
    """Return ``(width, height)`` of ``WIDTHxHEIGHT`` text; ValueError naming ``what``."""
    try:
        w, h = (int(v) for v in str(text).lower().split('x'))
    except ValueError:
        raise ValueError(f'{what} must be WIDTHxHEIGHT, e.g. 640x480, got {text!r}') from None
    if w < 1 or h < 1:
        raise ValueError(f'{what} must be positive, got {text!r}')
    return w, h


def image_size(text: str) -> tuple[int, int]:
    """Argparse type: ``WIDTHxHEIGHT`` -> ``(width, height)``."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_float(text: str) -> float:
    """Argparse type: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not v > 0 or not math.isfinite(v):
        raise argparse.ArgumentTypeError(f'must be a positive number, got {text!r}')
    return v


def whole_number(minimum: int = 0, what: str = '') -> Callable[[str], int]:
    """Argparse type factory: an integer >= ``minimum`` (``what`` names it in the refusal)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < minimum:
            need = what or f'must be a whole number >= {minimum}'
            raise argparse.ArgumentTypeError(f'{need}, got {text!r}')
        return v

    parse.__name__ = 'whole_number'
    return parse


__all__ = ['Terminated', 'add_set_argument', 'add_thermal_argument', 'image_size', 'one_line',
           'parse_size', 'positive_float', 'run_command', 'say', 'terminate_on', 'whole_number']
