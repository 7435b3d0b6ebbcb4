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

"""A bag played twice (a loop: stamps and /clock jump back) through play_bag into the node."""
import threading

import pytest


rclpy = pytest.importorskip('rclpy')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from ros2_ssvif.bag_player import play  # noqa: E402
from ros2_ssvif.fusion_node import FusionNode  # noqa: E402
from ros2_ssvif.image_codec import stamp_seconds  # noqa: E402
from ros_helpers import spin_until  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from test_bag_tools import write_bag  # noqa: E402


pytestmark = pytest.mark.ros


def test_a_bag_played_twice_fuses_both_times(tmp_path, toy_model_path):
    """
    Defect: after stamps jumped back every frame was dropped as out_of_order.

    Until the stamps passed the old maximum, and /diagnostics stayed OK.
    """
    rgb, th = write_bag(tmp_path / 'drive', 'mcap', n_rgb=45)  # 1.5 s: 45 RGB + 15 thermal frames
    rclpy.init()
    try:
        node = FusionNode(
            namespace='/loop',
            parameter_overrides=[
                Parameter('model_path', value=str(toy_model_path)),
                Parameter('use_sim_time', value=True),
                Parameter('max_pending_pairs', value=50),
                Parameter('diagnostics_period', value=0.2),
            ],
        )
        io = rclpy.create_node('loop_harness')
        masks = []
        io.create_subscription(Image, '/loop/segmentation/mask', masks.append, 100)
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        ex.add_node(io)
        assert spin_until(ex, lambda: node.pipeline is not None)
        player = rclpy.create_node('loop_player')
        counts = {}
        t = threading.Thread(
            target=lambda: counts.update(
                play(
                    str(tmp_path / 'drive'),
                    rate=2.0,
                    clock=True,
                    start_delay=1.0,
                    node=player,
                    repeat=2,
                    remap={
                        '/rgb/image_raw': '/loop/rgb/image_raw',
                        '/thermal/image_raw': '/loop/thermal/image_raw',
                    },
                )
            )
        )
        t.start()
        while t.is_alive():
            ex.spin_once(timeout_sec=0.02)
        assert counts['/thermal/image_raw'] == 2 * len(th)
        spin_until(ex, lambda: len(masks) >= 2 * len(th) - 2, 5)
        stamps = [round(stamp_seconds(m.header), 6) for m in masks]
        second = [i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1]]
        assert len(second) == 1, stamps  # exactly one step back: the loop
        first_pass, second_pass = stamps[:second[0]], stamps[second[0]:]
        # every thermal frame but the last of each pass (decided by the next pass's frames) is
        # fused
        assert len(first_pass) >= len(th) - 1 and len(second_pass) >= len(th) - 1
        assert set(second_pass) <= set(first_pass)
        assert node.stats.counts['time_resets'] == 1
        assert (
            node.stats.drops.get('visible_out_of_order', 0)
            + node.stats.drops.get('thermal_out_of_order', 0)
            == 0
        )
        print(
            f'loop: {counts["/thermal/image_raw"]} thermal frames played (2 passes), '
            f'{len(first_pass)} + {len(second_pass)} fused, '
            f'{node.stats.counts["time_resets"]} time reset'
        )
        player.destroy_node()
        node.destroy_node()
        io.destroy_node()
    finally:
        rclpy.try_shutdown()
