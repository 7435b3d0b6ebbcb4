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

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from ros2_ssvif.compressed import (
    array_to_compressed,
    compressed_to_array,
    header_size,
    parse_format,
    transport_topic,
)
from ros2_ssvif.image_codec import (
    array_to_fields,
    fill_image_msg,
    image_to_array,
    ImageDecodeError,
    stamp_seconds,
)


def msg(**kw):
    return SimpleNamespace(**kw)


@pytest.mark.parametrize(
    'enc,shape,dtype',
    [
        ('rgb8', (5, 7, 3), np.uint8),
        ('bgr8', (5, 7, 3), np.uint8),
        ('mono8', (5, 7), np.uint8),
        ('mono16', (5, 7), np.uint16),
        ('32FC1', (5, 7), np.float32),
    ],
)
def test_round_trip_keeps_every_value(enc, shape, dtype):
    rng = np.random.default_rng(1)
    a = (
        (rng.random(shape) * 60000).astype(dtype)
        if dtype != np.uint8
        else rng.integers(0, 256, shape, dtype=np.uint8)
    )
    back = image_to_array(msg(**array_to_fields(a, enc).__dict__))
    assert back.dtype == dtype and np.array_equal(back, a)


def test_bgr_is_returned_as_rgb():
    m = msg(height=1, width=1, encoding='bgr8', is_bigendian=0, step=3, data=bytes([10, 20, 30]))
    assert image_to_array(m).tolist() == [[[30, 20, 10]]]


def test_big_endian_mono16_and_padded_rows():
    # 2x2 image, rows padded to 6 bytes; big-endian 0x0102 = 258
    data = bytes([1, 2, 0, 3, 9, 9, 255, 255, 0, 1, 9, 9])
    m = msg(height=2, width=2, encoding='mono16', is_bigendian=1, step=6, data=data)
    assert image_to_array(m).tolist() == [[258, 3], [65535, 1]]


@pytest.mark.parametrize('kw,text', [
    ({'encoding': 'yuv422'}, 'unsupported encoding'),
    ({'data': bytes(5)}, 'truncated'),
    ({'step': 2}, 'smaller than one row'),
    ({'height': 0}, 'no pixels'),
])
def test_bad_messages_raise_readable_errors(kw, text):
    base = {
        'height': 2,
        'width': 2,
        'encoding': 'mono16',
        'is_bigendian': 0,
        'step': 4,
        'data': bytes(8),
    }
    base.update(kw)
    with pytest.raises(ImageDecodeError, match=text):
        image_to_array(msg(**base))


def test_nan_float_thermal_is_rejected():
    a = np.array([[1.0, np.nan]], np.float32)
    with pytest.raises(ImageDecodeError, match='NaN'):
        image_to_array(msg(**array_to_fields(a, '32FC1').__dict__))


def test_real_rclpy_message_round_trip():
    from sensor_msgs.msg import Image

    a = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
    m = fill_image_msg(Image(), a, 'mono16')
    m.header.stamp.sec, m.header.stamp.nanosec = 12, 500_000_000
    assert m.step == 8 and m.encoding == 'mono16'
    assert np.array_equal(image_to_array(m), a)
    assert stamp_seconds(m.header) == pytest.approx(12.5)


# -- compressed transport (image_transport's compressed / compressedDepth) -----------------------


def cmsg(fmt, data):
    return msg(format=fmt, data=np.frombuffer(bytes(data), np.uint8))


def _smooth_rgb(h=32, w=48):
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 5, y * 7, (x + y) * 2]).astype(np.uint8)


def test_jpeg_rgb_as_compressed_image_transport_writes_it():
    """
    Encode JPEG RGB as compressed_image_transport does.

    RGB converted to BGR, cv::imencode, format 'rgb8; jpeg compressed bgr8'.
    """
    rgb = _smooth_rgb()
    ok, buf = cv2.imencode(
        '.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98]
    )
    out = compressed_to_array(cmsg('rgb8; jpeg compressed bgr8', buf.tobytes()))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 2.0  # JPEG: close, and red stays red
    assert (
        out[..., 0].mean() > out[..., 2].mean() - 20
        and abs(out[..., 0].mean() - rgb[..., 0].mean()) < 2
    )


def test_sixteen_bit_png_thermal_keeps_every_bit():
    t = (np.arange(32 * 40, dtype=np.uint32).reshape(32, 40) * 51 % 65536).astype(np.uint16)
    ok, buf = cv2.imencode('.png', t)
    out = compressed_to_array(cmsg('mono16; png compressed mono16', buf.tobytes()))
    assert out.dtype == np.uint16 and np.array_equal(out, t)
    ok, buf8 = cv2.imencode('.png', (t >> 8).astype(np.uint8))
    assert np.array_equal(
        compressed_to_array(cmsg('mono8; png compressed mono8', buf8.tobytes())), t >> 8
    )


def test_compressed_depth_png_with_its_config_header():
    t = np.array([[0, 1000], [40000, 65535]], np.uint16)
    ok, buf = cv2.imencode('.png', t)
    header = np.array([0], np.int32).tobytes() + np.array([0.0, 0.0], np.float32).tobytes()
    out = compressed_to_array(cmsg('16UC1; compressedDepth png', header + buf.tobytes()))
    assert np.array_equal(out, t)


def test_round_trip_through_our_encoder_and_plain_format_names():
    rgb = _smooth_rgb()
    fmt, data = array_to_compressed(rgb, 'rgb8', 'png')
    assert fmt == 'rgb8; png compressed bgr8'
    assert np.array_equal(compressed_to_array(cmsg(fmt, data)), rgb)
    fmt, data = array_to_compressed(np.full((4, 4), 3000, np.uint16), 'mono16', 'png')
    assert fmt == 'mono16; png compressed mono16'
    # drivers that only say "jpeg": a standard JPEG file, decoded to RGB
    ok, buf = cv2.imencode(
        '.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98]
    )
    assert np.abs(compressed_to_array(cmsg('jpeg', buf.tobytes())).astype(int) - rgb).mean() < 2.0


def test_format_strings_are_parsed_and_checked():
    f = parse_format('mono16; png compressed mono16')
    assert (f.source_encoding, f.codec, f.payload_encoding, f.depth) == (
        'mono16',
        'png',
        'mono16',
        False,
    )
    assert parse_format('16UC1; compressedDepth').depth
    assert transport_topic('/cam/image_raw', 'compressed') == '/cam/image_raw/compressed'
    assert transport_topic('/cam/image_raw', 'raw') == '/cam/image_raw'
    with pytest.raises(ImageDecodeError, match='format'):
        parse_format('rgb8; tiff compressed bgr8')


@pytest.mark.parametrize(
    'fmt,payload,text',
    [
        (
            'rgb8; jpeg compressed bgr8',
            b'\xff\xd8\xff\xe0' + bytes(200),
            'cannot decode',
        ),  # truncated JPEG
        ('rgb8; jpeg compressed bgr8', b'', 'empty'),
        (
            'mono16; jpeg compressed mono16',
            None,
            'payload is png',
        ),  # the format lies about the codec
        ('mono8; png compressed mono8', None, '16-bit'),  # says 8-bit, decodes to 16-bit
    ],
)
def test_corrupt_or_mislabelled_payloads_raise_readable_errors(fmt, payload, text):
    if payload is None:
        ok, buf = cv2.imencode('.png', np.full((4, 4), 3000, np.uint16))
        payload = buf.tobytes()
    with pytest.raises(ImageDecodeError, match=text):
        compressed_to_array(cmsg(fmt, payload))


class Refused(Exception):
    pass


def test_a_huge_compressed_frame_is_refused_from_its_header_before_decoding():
    """Defect: a 10000x10000 PNG of 300 kB was decoded (2.5 s, 300 MB) before max_input_pixels."""
    big = cv2.imencode('.png', np.zeros((3000, 2000), np.uint16))[1]
    seen = []

    def check(h, w):
        seen.append((h, w))
        raise Refused

    with pytest.raises(Refused):
        compressed_to_array(cmsg('mono16; png compressed mono16', big), check)
    assert seen == [(3000, 2000)]  # the header's size, asked once, before imdecode
    jpg = cv2.imencode('.jpg', np.zeros((120, 160, 3), np.uint8))[1]
    assert header_size(jpg) == (120, 160)
    assert header_size(np.frombuffer(b'not an image at all', np.uint8)) is None
    ok = compressed_to_array(cmsg('rgb8; jpeg compressed bgr8', jpg), lambda h, w: None)
    assert ok.shape == (120, 160, 3)
