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
Board views from live camera topics (``calibrate --live``).

The only calibration module that imports rclpy, and only when called, so
folders and bags calibrate on machines without ROS. Frames are paired by
:class:`ros2_ssvif.pairing.ApproximatePairer` (as in the fusion node), the
board is detected in the subscription callback (a few frames per second is
plenty for calibration, and a board finder is far slower than a camera, so
the sensor-data QoS simply drops what arrives meanwhile), and a pair is
kept only where both cameras see the board and it moved since every kept
view. Collection stops at ``views`` views or after ``timeout`` seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import time

from calibration.boards import BoardSpec
from calibration.detect import detect_board
from calibration.errors import CalibrationError
from calibration.stereo import check_same_board
import numpy as np


@dataclass
class LiveStats:
    pairs: int = 0  # synchronised pairs seen
    no_board: int = 0  # pairs where a camera did not see the board
    repeated: int = 0  # pairs with the board where it had not moved
    kept: int = 0
    dropped: dict = field(default_factory=dict)  # pairer drops by (stream, reason)


def collect_live_views(board: BoardSpec, thermal_board: BoardSpec | None = None,
                       rgb_topic: str = 'rgb/image_raw', thermal_topic: str = 'thermal/image_raw',
                       views: int = 20, timeout: float = 120.0, max_dt: float = 0.02,
                       min_move_px: float = 15.0, stats: LiveStats | None = None,
                       log=None) -> list[tuple]:
    """
    Subscribe, pair, detect; return ``(name, vis, th, det_v, det_t)`` tuples.

    ``calibrate_pairs`` takes these without detecting again.
    """
    if thermal_board is not None:  # joint views: one board, points paired by id
        check_same_board(board, thermal_board)
    from calibration.collect import is_new_view
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from ros2_ssvif.image_codec import image_to_array, ImageDecodeError, stamp_seconds
    from ros2_ssvif.pairing import ApproximatePairer
    from sensor_msgs.msg import Image

    tboard = board
    stats = stats if stats is not None else LiveStats()
    kept: list[tuple] = []
    errors: list[str] = []

    def on_pair(v, t):
        stats.pairs += 1
        if len(kept) >= views:
            return
        try:
            vis, th = image_to_array(v), image_to_array(t)
        except ImageDecodeError as exc:
            errors.append(str(exc))
            return
        if vis.ndim == 2:
            vis = np.repeat(vis[:, :, None], 3, axis=2)
        a = detect_board(vis, board)
        b = detect_board(th, tboard) if a is not None else None
        if a is None or b is None:
            stats.no_board += 1
            return
        if not is_new_view(a, [k[3] for k in kept], min_move_px):
            stats.repeated += 1
            return
        kept.append((f'live_{len(kept):03d}', vis, th, a, b))
        stats.kept = len(kept)
        if log:
            log(f'view {len(kept)}/{views}')

    pairer = ApproximatePairer(queue_size=10, slop=max_dt, on_pair=on_pair)
    own_init = not rclpy.ok()
    if own_init:
        rclpy.init()
    node = executor = None
    try:
        node = rclpy.create_node('ssvif_calibrate_live')
        for topic, stream in ((rgb_topic, 'visible'), (thermal_topic, 'thermal')):
            node.create_subscription(Image, topic,
                                     lambda m, s=stream: pairer.add(s, stamp_seconds(m.header), m),
                                     qos_profile_sensor_data)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        end = time.monotonic() + timeout
        while len(kept) < views and time.monotonic() < end and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
            if errors:
                raise CalibrationError(f'cannot decode a live image: {errors[0]}')
        stats.dropped = {f'{s} {r}': n for (s, r), n in pairer.dropped.items()}
    finally:
        if executor is not None and node is not None:
            executor.remove_node(node)
        if node is not None:
            node.destroy_node()
        if own_init:
            rclpy.try_shutdown()
    if not kept:
        raise CalibrationError(
            f'no synchronised view with the board in both cameras within {timeout:g} s on '
            f'{rgb_topic} + '
            f'{thermal_topic} ({stats.pairs} pairs, {stats.no_board} without the board in both)')
    return kept
