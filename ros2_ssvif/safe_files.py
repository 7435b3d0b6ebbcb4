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
Read a file only if it is a regular file of sane size: the one check every reader shares.

A path a user types can name a FIFO (``open`` blocks until someone writes:
the node's parameter callback, and with it every service, hangs), a
character device (``/dev/zero`` never ends: ``read_text`` takes all memory)
or a multi-gigabyte file where a 2 KiB YAML was meant. ``os.stat`` never
blocks, but the path can change between a ``stat`` and an ``open``; so
:func:`read_regular_file` opens with ``O_NONBLOCK`` (a FIFO then opens at
once instead of waiting for a writer), checks the open descriptor with
``fstat`` and reads at most ``max_bytes`` + 1 bytes. Registration files,
models, calibration and label YAMLs, and the params file all go through
here, so they refuse the same things with the same words.
"""
from __future__ import annotations

import os
from pathlib import Path
import stat

from ros2_ssvif.errors import SsvifError


MAX_TEXT_BYTES = 1 << 20  # a registration / camera_info / labels / params YAML is a few KiB
MAX_MODEL_BYTES = 2 << 30  # protobuf's own limit for one ONNX file (external data aside)
MAX_IMAGE_FILE_BYTES = 1 << 30  # a compressed image file; its pixel count is checked apart


class FileCheckError(SsvifError, ValueError):
    """The path is missing, not a regular file, or too large; the text says which."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISDIR, 'a folder')):
        if test(mode):
            return name
    return 'not a regular file'


def _check(st: os.stat_result, path: Path, what: str, max_bytes: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise FileCheckError(f'{what} is not a regular file: {path} ({_kind(st.st_mode)})')
    if st.st_size > max_bytes:
        raise FileCheckError(f'{what} is too large: {path} has {st.st_size} bytes, at most '
                             f'{max_bytes} are read')


def check_regular_file(path: str | Path, what: str = 'file',
                       max_bytes: int = MAX_TEXT_BYTES) -> Path:
    """Return ``path`` if it is a regular file of at most ``max_bytes``; never opens it."""
    path = Path(path).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileCheckError(f'{what} not found: {path}') from None
    except OSError as exc:
        raise FileCheckError(f'cannot read {what} {path}: {exc.strerror or exc}') from None
    _check(st, path, what, max_bytes)
    return path


def read_regular_file(path: str | Path, what: str = 'file',
                      max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """Return the bytes of a regular file of at most ``max_bytes`` (see the module docstring)."""
    path = Path(path).expanduser()
    try:
        flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileCheckError(f'{what} not found: {path}') from None
    except OSError as exc:
        raise FileCheckError(f'cannot read {what} {path}: {exc.strerror or exc}') from None
    try:
        _check(os.fstat(fd), path, what, max_bytes)
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileCheckError(f'cannot read {what} {path}: {exc.strerror or exc}') from None
    finally:
        os.close(fd)
    data = b''.join(chunks)
    if len(data) > max_bytes:  # it grew while we read
        raise FileCheckError(f'{what} is too large: {path} has more than {max_bytes} bytes')
    return data


def read_text_file(path: str | Path, what: str = 'file', max_bytes: int = MAX_TEXT_BYTES) -> str:
    """:func:`read_regular_file` decoded as UTF-8 (a binary file is one readable error)."""
    data = read_regular_file(path, what, max_bytes)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise FileCheckError(f'{what} {Path(path)} is not UTF-8 text: {exc.reason} at byte '
                             f'{exc.start}') from None


def read_yaml_file(path: str | Path, what: str, error: type[Exception] = FileCheckError):
    """
    Parse a small YAML file read through :func:`read_text_file`.

    Any failure (not a regular file, not text, not YAML) is one ``error``
    naming the file: each file format's owner passes its own error class.
    """
    import yaml  # a runtime dependency; imported here so the file checks need nothing else

    try:
        return yaml.safe_load(read_text_file(path, what))
    except FileCheckError as exc:  # missing, a FIFO, /dev/zero, a huge file: never opened long
        raise error(str(exc)) from None
    except (OSError, yaml.YAMLError) as exc:
        raise error(f'cannot read {what} {path}: {exc}') from None


__all__ = ['check_regular_file', 'FileCheckError', 'MAX_IMAGE_FILE_BYTES', 'MAX_MODEL_BYTES',
           'MAX_TEXT_BYTES', 'read_regular_file', 'read_text_file', 'read_yaml_file']
