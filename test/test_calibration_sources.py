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

"""``calibrate --bag`` and ``calibrate --live`` on rendered board frames."""
import threading

from calibration.cli import main as calibrate_main
from calibration.sources import read_bag_pairs
import numpy as np
import pytest
from ros2_ssvif.bag_io import BagWriter
from ros2_ssvif.image_codec import fill_image_msg
from simulation.boards import render_board_captures
from simulation.rig import default_rig
import yaml


BOARD = 'circles:7x5:0.1:0.03'
IMAGE = 'sensor_msgs/msg/Image'
N_VIEWS = 6


@pytest.fixture(scope='module')
def frames():
    """Six distinct board poses (about 1 s of rendering each)."""
    return [(v, t) for v, t, _ in render_board_captures(default_rig(), BOARD, N_VIEWS, seed=5,
                                                        dist_range=(1.0, 2.5))]


def _bag_events(frames):
    """
    Return the bag events: per view RGB, thermal, an orphan thermal frame; then repeats.

    Per view: RGB at s, thermal 1-5 ms later; then an orphan thermal frame 50
    ms later (no RGB within max-dt). Views 0, 2 and 4 come back after the six
    as near-identical repeats (same pose, fresh noise).
    """
    rng = np.random.default_rng(0)
    order = list(range(N_VIEWS)) + [0, 2, 4]
    events = []
    for k, i in enumerate(order):
        s = 100.0 + 0.2 * k
        vis, th = frames[i]
        if k >= N_VIEWS:
            vis = vis.astype(int) + rng.integers(-2, 3, vis.shape)
            vis = np.clip(vis, 0, 255).astype(np.uint8)
        events += [(s, '/rgb/image_raw', vis, 'rgb8'),
                   (s + 0.001 * (1 + k % 5), '/thermal/image_raw', th, 'mono16'),
                   (s + 0.05, '/thermal/image_raw', th, 'mono16')]
    return sorted(events, key=lambda e: e[0])


def _write_bag(path, frames):
    with BagWriter(path, 'sqlite3') as w:
        Header = w.msg_class('std_msgs/msg/Header')
        Time = w.msg_class('builtin_interfaces/msg/Time')
        for s, topic, arr, enc in _bag_events(frames):
            hdr = Header(stamp=Time(sec=int(s), nanosec=int(round((s % 1) * 1e9))),
                         frame_id=topic.split('/')[1])
            msg = fill_image_msg(w.empty_image(hdr), arr, enc)
            msg.data = np.frombuffer(msg.data, np.uint8)
            w.write(topic, IMAGE, int(s * 1e9), msg)


def test_bag_pairs_only_synchronised_frames(tmp_path, frames):
    _write_bag(tmp_path / 'bag', frames)
    stats = {}
    pairs = list(read_bag_pairs(tmp_path / 'bag', max_dt=0.02, stats=stats))
    # nine RGB frames, each with its 1-5 ms thermal partner; the nine orphans are dropped
    assert len(pairs) == 9 and stats['pairs'] == 9 and stats['thermal no_partner'] == 9
    name, vis, th = pairs[1]
    assert vis.shape == (480, 640, 3) and vis.dtype == np.uint8
    assert th.dtype == np.uint16 and np.array_equal(th, frames[1][1])
    # a tighter max-dt loses the partners 3-5 ms away (views k with k % 5 >= 2)
    assert len(list(read_bag_pairs(tmp_path / 'bag', max_dt=0.0025))) == 4


def test_calibrate_bag_keeps_diverse_views(tmp_path, frames, capsys):
    _write_bag(tmp_path / 'bag', frames)
    rc = calibrate_main(['--bag', str(tmp_path / 'bag'), '--board', BOARD, '--output',
                         str(tmp_path / 'out'),
                         '--plane-distance', '2', '--quiet'])
    assert rc == 0, capsys.readouterr().err
    info = yaml.safe_load((tmp_path / 'out/registration.yaml').read_text())
    text = str(info)
    assert "'joint': 6" in text and "'visible': 6" in text  # the three repeats were skipped
    rig = default_rig()
    t = np.asarray(_find(info, 't_visible_to_thermal_m'))
    assert np.linalg.norm(t - rig.t) < 0.01
    assert 'point refinement' in (tmp_path / 'out/report.md').read_text()


def test_bag_missing_topic_is_one_line(tmp_path, frames, capsys):
    _write_bag(tmp_path / 'bag', frames)
    rc = calibrate_main(['--bag', str(tmp_path / 'bag'), '--rgb-topic', '/nope', '--board', BOARD,
                         '--output', str(tmp_path / 'out'), '--quiet'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert '/nope' in err[0] and err[0].startswith('calibrate: error')


def _find(d, key):
    if isinstance(d, dict):
        if key in d:
            return d[key]
        for v in d.values():
            got = _find(v, key)
            if got is not None:
                return got
    return None


@pytest.mark.ros
def test_calibrate_live_topics(tmp_path, frames, capsys):
    rclpy = pytest.importorskip('rclpy')
    from rclpy.qos import QoSProfile
    from ros_helpers import ros_image
    from sensor_msgs.msg import Image

    rclpy.init()
    stop = threading.Event()
    try:
        pub_node = rclpy.create_node('board_camera')
        pv = pub_node.create_publisher(Image, 'rgb/image_raw', QoSProfile(depth=5))
        pt = pub_node.create_publisher(Image, 'thermal/image_raw', QoSProfile(depth=5))
        sent = {'n': 0}

        def publish():
            """
            Publish each view twice in a row (a repeat), thermal 4 ms behind.

            And every third thermal frame once more without an RGB partner.
            """
            s = 10.0
            while not stop.is_set():
                i = (sent['n'] // 2) % N_VIEWS
                vis, th = frames[i]
                pv.publish(ros_image(vis, 'rgb8', s, 'visible'))
                pt.publish(ros_image(th, 'mono16', s + 0.004, 'thermal'))
                if sent['n'] % 3 == 0:
                    pt.publish(ros_image(th, 'mono16', s + 0.06, 'thermal'))
                sent['n'] += 1
                s += 0.1
                stop.wait(0.08)

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        rc = calibrate_main(['--live', '--views', '5', '--timeout', '90', '--board', BOARD,
                             '--output', str(tmp_path / 'out'), '--plane-distance', '2',
                             '--quiet'])
        stop.set()
        thread.join(5)
        assert rc == 0, capsys.readouterr().err
        info = yaml.safe_load((tmp_path / 'out/registration.yaml').read_text())
        assert "'joint': 5" in str(info)  # stopped at --views 5, each a different pose
        assert sent['n'] >= 10  # it had to skip repeats and orphans to get there
    finally:
        stop.set()
        rclpy.try_shutdown()
