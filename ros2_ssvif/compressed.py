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
sensor_msgs/CompressedImage <-> numpy, as ``image_transport`` writes it.

Drives are usually recorded through ``image_transport``'s ``compressed``
plugin (``<base>/compressed``: JPEG or PNG) and 16-bit thermal sometimes
through ``compressedDepth`` (a 12-byte header, then a PNG). The payload is
decoded with ``cv2.imdecode`` (``IMREAD_UNCHANGED`` keeps 16 bits); the
format string (``"rgb8; jpeg compressed bgr8"``, ``"mono16; png compressed
mono16"``, ``"16UC1; compressedDepth png"``, or just ``"jpeg"``) is parsed
and checked against what the payload really is, because a mislabelled
stream silently swapping red and blue or losing 8 bits is worse than a
counted drop. Written by hand (no ROS plugin loader in Python): the
conventions are compressed_image_transport's, read from its documentation.
"""
from __future__ import annotations

from dataclasses import dataclass
import io
import warnings

import cv2
import numpy as np
from ros2_ssvif.image_codec import ImageDecodeError


TRANSPORTS = ('raw', 'compressed', 'compressedDepth')
CODECS = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png'}
DEPTH_HEADER_BYTES = 12  # compressed_depth_image_transport's ConfigHeader: int32 + 2 float32
# payload encoding -> (dtype, channels) after cv2.imdecode(IMREAD_UNCHANGED)
PAYLOADS = {
    'mono8': (np.uint8, 1),
    '8UC1': (np.uint8, 1),
    'mono16': (np.uint16, 1),
    '16UC1': (np.uint16, 1),
    'bgr8': (np.uint8, 3),
    'rgb8': (np.uint8, 3),
    'bgra8': (np.uint8, 4),
    'rgba8': (np.uint8, 4),
    'bgr16': (np.uint16, 3),
    'rgb16': (np.uint16, 3),
}


@dataclass(frozen=True)
class CompressedFormat:
    source_encoding: str  # the raw image's encoding before compression ("" if not given)
    codec: str  # "jpeg" or "png"
    payload_encoding: str  # what was handed to the encoder ("" if not given)
    depth: bool  # compressedDepth transport (header before the PNG)


def transport_topic(base: str, transport: str) -> str:
    """Return the topic ``image_transport`` uses for ``transport`` on ``base``."""
    if transport not in TRANSPORTS:
        raise ValueError(f'transport must be one of {TRANSPORTS}, got {transport!r}')
    return base if transport == 'raw' else f"{base.rstrip('/')}/{transport}"


def is_compressed(msg) -> bool:
    """Tell whether ``msg`` is a CompressedImage (header, format, data) rather than an Image."""
    return hasattr(msg, 'format') and not hasattr(msg, 'encoding')


def parse_format(fmt: str) -> CompressedFormat:
    text = str(fmt).strip()
    parts = [p.strip() for p in text.split(';')]
    source, rest = (parts[0], parts[1]) if len(parts) >= 2 else ('', parts[0])
    tokens = rest.split()
    if tokens and tokens[0] == 'compressedDepth':
        codec = tokens[1] if len(tokens) > 1 else 'png'
        if codec != 'png':
            raise ImageDecodeError(
                f'compressedDepth format {text!r}: only png is supported, not {codec}'
            )
        return CompressedFormat(source, 'png', source, True)
    if not tokens or tokens[0].lower() not in CODECS:
        raise ImageDecodeError(f'unsupported compressed format {text!r}; expected e.g. '
                               "'rgb8; jpeg compressed bgr8' or 'mono16; png compressed mono16'")
    payload = tokens[2] if len(tokens) >= 3 and tokens[1] == 'compressed' else ''
    if payload and payload not in PAYLOADS:
        raise ImageDecodeError(f'compressed format {text!r}: unknown payload encoding {payload!r}')
    return CompressedFormat(source, CODECS[tokens[0].lower()], payload, False)


def _sniff(data: np.ndarray) -> str:
    head = data[:8].tobytes()
    if head.startswith(b'\xff\xd8\xff'):
        return 'jpeg'
    if head.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'png'
    return 'unknown'


def header_size(raw: np.ndarray) -> tuple[int, int] | None:
    """
    Return (height, width) read from a PNG/JPEG header, without decoding.

    OpenCV has no header-only query for an in-memory image; Pillow (which
    matplotlib already brings) reads just the header. None where Pillow is
    missing or cannot tell: the size is then checked after decoding.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib depends on Pillow
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # DecompressionBombWarning: we judge the size
            with Image.open(io.BytesIO(raw.tobytes())) as im:
                width, height = im.size
    except Image.DecompressionBombError:
        return (1 << 20, 1 << 20)  # far beyond any max_input_pixels
    except Exception:  # noqa: B902 - not Pillow's to judge: imdecode decides
        return None
    return int(height), int(width)


def compressed_to_array(msg, check_size=None) -> np.ndarray:
    """
    Decode a CompressedImage: colour as RGB (H,W,3), mono as (H,W) in its own depth.

    ``check_size(height, width)`` runs on the header's size before decoding
    (it raises to refuse a frame), so a 10000x10000 PNG of 300 kB is refused
    without 300 MB of decoding.
    """
    fmt = parse_format(msg.format)
    data = msg.data
    raw = np.frombuffer(
        data if isinstance(data, (bytes, bytearray, memoryview)) else np.asarray(data, np.uint8),
        dtype=np.uint8,
    )
    if fmt.depth:
        raw = raw[DEPTH_HEADER_BYTES:]
    if raw.size == 0:
        raise ImageDecodeError(f'empty {fmt.codec} payload ({msg.format!r})')
    kind = _sniff(raw)
    if kind != fmt.codec:
        raise ImageDecodeError(f'format {msg.format!r} says {fmt.codec} but the payload is {kind}')
    if check_size is not None:
        size = header_size(raw)
        if size is not None:
            check_size(*size)
    img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageDecodeError(
            f'cannot decode {fmt.codec} payload ({raw.size} bytes): corrupt or truncated'
        )
    channels = 1 if img.ndim == 2 else img.shape[2]
    if fmt.payload_encoding:
        dtype, want = PAYLOADS[fmt.payload_encoding]
        if img.dtype != dtype or channels != want:
            bits = 8 * img.dtype.itemsize
            raise ImageDecodeError(
                f'format {msg.format!r} says {fmt.payload_encoding} but the payload decodes '
                f'to {bits}-bit with {channels} channel(s)'
            )
    if channels == 1:
        return np.ascontiguousarray(img.reshape(img.shape[:2]))
    colour = img[:, :, :3]
    if fmt.payload_encoding.startswith('rgb'):
        return np.ascontiguousarray(colour)  # the encoder was handed RGB: stored order is RGB
    return np.ascontiguousarray(colour[:, :, ::-1])  # OpenCV's BGR -> RGB


def array_to_compressed(arr: np.ndarray, encoding: str, codec: str = 'jpeg',
                        jpeg_quality: int = 95) -> tuple[str, bytes]:
    """
    (format, payload) the way compressed_image_transport publishes ``arr``.

    Colour is converted to BGR before encoding (format ``"<enc>; <codec>
    compressed bgr8"``); mono keeps its depth (16-bit needs PNG).
    """
    a = np.asarray(arr)
    codec = CODECS.get(codec, codec)
    if codec not in ('jpeg', 'png'):
        raise ValueError(f'codec must be jpeg or png, got {codec!r}')
    if a.ndim == 3:
        if a.dtype != np.uint8 or a.shape[2] != 3:
            raise ValueError(f'colour images must be HxWx3 uint8, got {a.shape} {a.dtype}')
        src = a[:, :, ::-1] if encoding.startswith('rgb') else a
        payload = 'bgr8'
    else:
        if a.dtype == np.uint16 and codec == 'jpeg':
            raise ValueError('16-bit images need png (JPEG is 8-bit)')
        src, payload = a, 'mono16' if a.dtype == np.uint16 else 'mono8'
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if codec == 'jpeg' else []
    ok, buf = cv2.imencode(
        '.jpg' if codec == 'jpeg' else '.png', np.ascontiguousarray(src), params
    )
    if not ok:
        raise ValueError(f'OpenCV could not encode a {a.shape} {a.dtype} image as {codec}')
    return f'{encoding}; {codec} compressed {payload}', buf.tobytes()


def message_to_array(msg, max_pixels: int | None = None) -> np.ndarray:
    """
    Image or CompressedImage -> array (colour RGB, mono in its own depth).

    ``max_pixels`` (default: the tools' ``image_files.MAX_IMAGE_PIXELS``)
    refuses a larger frame from its header, before anything is decoded.
    """
    from ros2_ssvif.image_codec import image_to_array
    from ros2_ssvif.image_files import MAX_IMAGE_PIXELS

    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels

    def check(h: int, w: int) -> None:
        if int(h) * int(w) > limit:
            raise ImageDecodeError(f'frame {w}x{h} has more than {limit} pixels (refused '
                                   'before decoding)')

    if is_compressed(msg):
        return compressed_to_array(msg, check)
    check(msg.height, msg.width)
    return image_to_array(msg)
