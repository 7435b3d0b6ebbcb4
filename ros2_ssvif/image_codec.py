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
sensor_msgs/Image <-> numpy, without cv_bridge.

ROS 2 cv_bridge is not installable everywhere this package runs, and the
PyPI ``cv-bridge`` port squashes 16-bit images to 8 bits, so this module
does the conversion itself: it reads the message's fields (rclpy messages
and ``rosbags`` messages have the same ones), validates every one of them
and never guesses. Bad input raises :class:`ImageDecodeError` with a
sentence a person can act on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ros2_ssvif.errors import SsvifError


# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    'rgba8': (np.dtype(np.uint8), 4),
    'bgra8': (np.dtype(np.uint8), 4),
    'mono8': (np.dtype(np.uint8), 1),
    '8UC1': (np.dtype(np.uint8), 1),
    '8UC3': (np.dtype(np.uint8), 3),
    'mono16': (np.dtype(np.uint16), 1),
    '16UC1': (np.dtype(np.uint16), 1),
    '32FC1': (np.dtype(np.float32), 1),
}


class ImageDecodeError(SsvifError, ValueError):
    """The message cannot be turned into an image; the text says why."""


@dataclass(frozen=True)
class ImageFields:
    """The fields of sensor_msgs/Image other than the header."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


def image_to_array(msg) -> np.ndarray:
    """
    Decode an Image message into an array that owns its memory.

    Colour images come back as RGB (H,W,3) uint8 whatever the source order,
    alpha dropped; mono images as (H,W) in their own dtype (16-bit thermal
    keeps all its bits).
    """
    enc = str(msg.encoding)
    if enc not in ENCODINGS:
        raise ImageDecodeError(
            f'unsupported encoding {enc!r}; supported: {", ".join(sorted(ENCODINGS))}'
        )
    dtype, channels = ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise ImageDecodeError(f'image has no pixels ({w}x{h})')
    row_bytes = w * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDecodeError(
            f'step {step} is smaller than one row ({row_bytes} bytes for {w} px of {enc})'
        )
    data = msg.data
    buf = (
        data
        if isinstance(data, (bytes, bytearray, memoryview))
        else np.asarray(data, dtype=np.uint8)
    )
    raw = np.frombuffer(buf, dtype=np.uint8)
    if raw.size < step * h:
        raise ImageDecodeError(
            f'truncated image: {raw.size} bytes, expected {step * h} ({h} rows of {step})'
        )
    rows = raw[: step * h].reshape(h, step)[:, :row_bytes]
    big = bool(msg.is_bigendian)
    arr = np.ascontiguousarray(rows).view(dtype.newbyteorder('>' if big else '<'))
    arr = arr.reshape(h, w, channels) if channels > 1 else arr.reshape(h, w)
    arr = arr.astype(dtype, copy=True)  # native byte order, owned
    if enc in ('bgr8', 'bgra8'):
        arr = arr[:, :, 2::-1]
    elif enc in ('rgba8',):
        arr = arr[:, :, :3]
    if enc == '32FC1' and not np.all(np.isfinite(arr)):
        raise ImageDecodeError('float image contains NaN or infinite values')
    return np.ascontiguousarray(arr)


def array_to_fields(arr: np.ndarray, encoding: str) -> ImageFields:
    """Encode an array as Image fields (little-endian, tightly packed rows)."""
    if encoding not in ENCODINGS:
        raise ImageDecodeError(f'unsupported encoding {encoding!r}')
    dtype, channels = ENCODINGS[encoding]
    a = np.asarray(arr)
    if a.dtype != dtype:
        raise ImageDecodeError(f'{encoding} needs {dtype} data, got {a.dtype}')
    if (channels == 1 and a.ndim != 2) or (
        channels > 1 and (a.ndim != 3 or a.shape[2] != channels)
    ):
        raise ImageDecodeError(f'{encoding} needs {channels} channel(s), got shape {a.shape}')
    if encoding in ('bgr8', 'bgra8'):
        a = (
            np.concatenate([a[:, :, 2::-1], a[:, :, 3:]], axis=2)
            if channels == 4
            else a[:, :, ::-1]
        )
    a = np.ascontiguousarray(a.astype(dtype.newbyteorder('<'), copy=False))
    h, w = a.shape[:2]
    return ImageFields(h, w, encoding, 0, w * channels * dtype.itemsize, a.tobytes())


def fill_image_msg(msg, arr: np.ndarray, encoding: str, header=None):
    """Fill an Image message (rclpy or rosbags type) in place and return it."""
    f = array_to_fields(arr, encoding)
    if header is not None:
        msg.header = header
    msg.height, msg.width, msg.encoding = f.height, f.width, f.encoding
    msg.is_bigendian, msg.step = f.is_bigendian, f.step
    msg.data = f.data
    return msg


def stamp_seconds(header) -> float:
    """builtin_interfaces/Time of a header as float seconds."""
    return int(header.stamp.sec) + int(header.stamp.nanosec) * 1e-9
