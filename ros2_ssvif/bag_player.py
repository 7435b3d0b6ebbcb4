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
play_bag: replay a rosbag2 file over DDS, like ``ros2 bag play``.

Where ros2cli is installed, use ``ros2 bag play --clock``; this tool exists
for machines without it (pip-installed rclpy, CI, the demo). It publishes
the stored CDR bytes unchanged at the recorded pace (scaled by ``--rate``),
and with ``--clock`` publishes /clock from the bag's log time so nodes run
with ``use_sim_time:=true``. ``--repeat N`` plays the bag N times in a row
(``ros2 bag play --loop``): stamps and /clock jump back at each pass. Image
topics are published best-effort-compatible (reliable, keep last):
sensor-data subscribers receive them.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time

from ros2_ssvif.bag_io import BagError, iter_raw
from ros2_ssvif.cli import run_command


def message_class(msgtype: str):
    pkg, _, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.msg'), name)
    except (ImportError, AttributeError):
        raise BagError(
            f'message type {msgtype} is not available in this ROS installation'
        ) from None


def play(bag: str, topics: list[str] | None = None, rate: float = 1.0, clock: bool = False,
         start_delay: float = 1.0, remap: dict[str, str] | None = None, node=None, depth: int = 10,
         repeat: int = 1) -> dict:
    """Publish the bag ``repeat`` times; returns messages published per topic."""
    import rclpy
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock

    if rate <= 0:
        raise ValueError(f'rate must be > 0, got {rate}')
    if repeat < 1:
        raise ValueError(f'repeat must be >= 1, got {repeat}')
    own = node is None
    if own:
        node = rclpy.create_node('ssvif_bag_player')
    remap = remap or {}
    pubs: dict[str, object] = {}
    counts: dict[str, int] = {}
    clock_pub = node.create_publisher(Clock, '/clock', 10) if clock else None
    messages = list(iter_raw(bag, topics))
    if not messages:
        raise BagError(f"{bag}: nothing to play on {topics or 'any topic'}")
    for topic, msgtype, _, _ in messages:
        if topic not in pubs:
            pubs[topic] = node.create_publisher(
                message_class(msgtype), remap.get(topic, topic), QoSProfile(depth=depth)
            )
    time.sleep(start_delay)  # let discovery match subscribers before the first frame
    t0_bag = messages[0][2]
    period = (messages[-1][2] - t0_bag) * 1e-9 / rate
    for _ in range(repeat):
        t0 = time.monotonic()
        for topic, _, t_ns, raw in messages:
            due = t0 + (t_ns - t0_bag) * 1e-9 / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if clock_pub is not None:
                c = Clock()
                c.clock.sec, c.clock.nanosec = divmod(int(t_ns), 1_000_000_000)
                clock_pub.publish(c)
            pubs[topic].publish(raw)
            counts[topic] = counts.get(topic, 0) + 1
        time.sleep(min(period / max(len(messages), 1), 0.1))  # one frame gap between passes
    if own:
        node.destroy_node()
    return counts


def main(argv: list[str] | None = None) -> int:
    import rclpy

    ap = argparse.ArgumentParser(prog='play_bag', description=__doc__.strip().splitlines()[0])
    ap.add_argument('bag')
    ap.add_argument('--topics', nargs='*', help='only these topics')
    ap.add_argument('--rate', type=float, default=1.0)
    ap.add_argument('--clock', action='store_true', help='publish /clock from bag time')
    ap.add_argument('--repeat', type=int, default=1, help='play the bag this many times (a loop)')
    ap.add_argument(
        '--start-delay', type=float, default=1.0, help='seconds to wait for subscribers'
    )
    ap.add_argument('--remap', nargs='*', default=[], metavar='FROM:=TO')
    args, ros_args = ap.parse_known_args(argv)

    def body() -> None:
        remap = {}
        for r in args.remap:
            if ':=' not in r:
                raise BagError(f'remap {r!r} must look like FROM:=TO')
            a, b = r.split(':=', 1)
            remap[a] = b
        rclpy.init(args=ros_args)
        try:
            counts = play(args.bag, args.topics, args.rate, args.clock, args.start_delay, remap,
                          repeat=args.repeat)
        finally:
            rclpy.try_shutdown()
        print('play_bag: published ' + ', '.join(f'{n} on {t}' for t, n in counts.items()))

    return run_command('play_bag', body, plain=True)


if __name__ == '__main__':
    sys.exit(main())
