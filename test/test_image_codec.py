from types import SimpleNamespace

import numpy as np
import pytest

from ros2_ssvif.image_codec import ImageDecodeError, array_to_fields, fill_image_msg, image_to_array, stamp_seconds


def msg(**kw):
    return SimpleNamespace(**kw)


@pytest.mark.parametrize("enc,shape,dtype", [("rgb8", (5, 7, 3), np.uint8), ("bgr8", (5, 7, 3), np.uint8),
                                             ("mono8", (5, 7), np.uint8), ("mono16", (5, 7), np.uint16),
                                             ("32FC1", (5, 7), np.float32)])
def test_round_trip_keeps_every_value(enc, shape, dtype):
    rng = np.random.default_rng(1)
    a = (rng.random(shape) * 60000).astype(dtype) if dtype != np.uint8 else rng.integers(0, 256, shape, dtype=np.uint8)
    back = image_to_array(msg(**array_to_fields(a, enc).__dict__))
    assert back.dtype == dtype and np.array_equal(back, a)


def test_bgr_is_returned_as_rgb():
    m = msg(height=1, width=1, encoding="bgr8", is_bigendian=0, step=3, data=bytes([10, 20, 30]))
    assert image_to_array(m).tolist() == [[[30, 20, 10]]]


def test_big_endian_mono16_and_padded_rows():
    # 2x2 image, rows padded to 6 bytes; big-endian 0x0102 = 258
    data = bytes([1, 2, 0, 3, 9, 9, 255, 255, 0, 1, 9, 9])
    m = msg(height=2, width=2, encoding="mono16", is_bigendian=1, step=6, data=data)
    assert image_to_array(m).tolist() == [[258, 3], [65535, 1]]


@pytest.mark.parametrize("kw,text", [
    (dict(encoding="yuv422"), "unsupported encoding"),
    (dict(data=bytes(5)), "truncated"),
    (dict(step=2), "smaller than one row"),
    (dict(height=0), "no pixels"),
])
def test_bad_messages_raise_readable_errors(kw, text):
    base = dict(height=2, width=2, encoding="mono16", is_bigendian=0, step=4, data=bytes(8))
    base.update(kw)
    with pytest.raises(ImageDecodeError, match=text):
        image_to_array(msg(**base))


def test_nan_float_thermal_is_rejected():
    a = np.array([[1.0, np.nan]], np.float32)
    with pytest.raises(ImageDecodeError, match="NaN"):
        image_to_array(msg(**array_to_fields(a, "32FC1").__dict__))


def test_real_rclpy_message_round_trip():
    from sensor_msgs.msg import Image

    a = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
    m = fill_image_msg(Image(), a, "mono16")
    m.header.stamp.sec, m.header.stamp.nanosec = 12, 500_000_000
    assert m.step == 8 and m.encoding == "mono16"
    assert np.array_equal(image_to_array(m), a)
    assert stamp_seconds(m.header) == pytest.approx(12.5)
