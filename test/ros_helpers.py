"""Small helpers for tests that talk to real rclpy over Fast DDS."""
from __future__ import annotations

import time

import numpy as np

from ros2_ssvif.image_codec import fill_image_msg


def spin_until(executor, predicate, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
        if predicate():
            return True
    return False


def ros_image(arr: np.ndarray, encoding: str, stamp: float, frame_id: str):
    from sensor_msgs.msg import Image

    m = fill_image_msg(Image(), arr, encoding)
    m.header.frame_id = frame_id
    m.header.stamp.sec = int(stamp)
    m.header.stamp.nanosec = int(round((stamp - int(stamp)) * 1e9))
    return m


def make_frames(i: int, h: int = 48, w: int = 64):
    """A visible frame and a thermal frame whose right half is hot from column ``8 + i``."""
    vis = np.full((h, w, 3), 40 + i, np.uint8)
    thr = np.full((h, w), 1000, np.uint16)
    thr[:, 8 + i:] = 30000
    return vis, thr
