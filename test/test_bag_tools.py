"""process_bag and play_bag on real rosbag2 files (sqlite3 and mcap)."""
import threading

import numpy as np
import pytest

from ros2_ssvif.bag_io import BagWriter, iter_messages
from ros2_ssvif.config import FusionConfig
from ros2_ssvif.image_codec import fill_image_msg, image_to_array, stamp_seconds
from ros2_ssvif.process_bag import main as process_bag_main
from ros2_ssvif.process_bag import process_bag
from ros_helpers import make_frames

IMAGE = "sensor_msgs/msg/Image"


def header(w, stamp, frame):
    Header = w.msg_class("std_msgs/msg/Header")
    Time = w.msg_class("builtin_interfaces/msg/Time")
    return Header(stamp=Time(sec=int(stamp), nanosec=int(round((stamp % 1) * 1e9))), frame_id=frame)


def write_bag(path, storage, n_rgb=12, rgb_hz=30.0, th_hz=10.0, bad_thermal_at=None):
    """RGB at 30 Hz, mono16 thermal at 10 Hz, 3 ms late; returns the stamps written."""
    rgb_stamps = [1000.0 + i / rgb_hz for i in range(n_rgb)]
    th_stamps = [1000.0 + 0.003 + i / th_hz for i in range(int(n_rgb * th_hz / rgb_hz))]
    events = sorted([(s, "rgb") for s in rgb_stamps] + [(s, "th") for s in th_stamps])
    with BagWriter(path, storage) as w:
        for k, (s, kind) in enumerate(events):
            vis, thr = make_frames(k % 20)
            if kind == "rgb":
                msg = fill_image_msg(w.empty_image(header(w, s, "visible_optical_frame")), vis, "rgb8")
                topic = "/rgb/image_raw"
            else:
                msg = fill_image_msg(w.empty_image(header(w, s, "thermal_optical_frame")), thr, "mono16")
                if bad_thermal_at is not None and abs(s - th_stamps[bad_thermal_at]) < 1e-9:
                    msg.encoding = "yuv422"
                topic = "/thermal/image_raw"
            msg.data = np.frombuffer(msg.data, np.uint8)
            w.write(topic, IMAGE, int((s + 0.01) * 1e9), msg)
    return rgb_stamps, th_stamps


def cfg(model):
    return FusionConfig(model_path=str(model), thermal_normalization="fixed", thermal_fixed_max=30000.0)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_process_bag_writes_one_output_per_pair_stamped_with_the_rgb_header(tmp_path, toy_model_path, storage):
    rgb, th = write_bag(tmp_path / "in", storage)
    summary = process_bag(tmp_path / "in", tmp_path / "out", cfg(toy_model_path), progress=False)
    masks = [(t, m) for topic, t, m in iter_messages(tmp_path / "out") if topic == "/segmentation/mask"]
    fused = [m for topic, _, m in iter_messages(tmp_path / "out") if topic == "/fused/image"]
    assert len(masks) == len(th) == len(fused) == summary["counts"]["published"]
    for (t_log, m), s in zip(masks, th):
        nearest_rgb = min(rgb, key=lambda r: abs(r - s))
        assert stamp_seconds(m.header) == pytest.approx(nearest_rgb, abs=1e-9)
        assert m.header.frame_id == "visible_optical_frame" and m.encoding == "mono8"
        assert t_log == int((nearest_rgb + 0.01) * 1e9)  # logged at the visible frame's log time
    ids = image_to_array(masks[0][1])
    assert ids.max() == 1 and ids.min() == 0
    assert summary["counts"]["visible_in"] == len(rgb) and summary["counts"]["thermal_in"] == len(th)
    assert summary["drops"] == {"visible_no_partner": len(rgb) - len(th)}
    assert set(summary["latency_ms"]) >= {"decode", "register", "infer", "encode", "publish"}


def test_a_corrupt_frame_in_the_bag_is_counted_not_fatal(tmp_path, toy_model_path):
    rgb, th = write_bag(tmp_path / "in", "sqlite3", bad_thermal_at=1)
    summary = process_bag(tmp_path / "in", tmp_path / "out", cfg(toy_model_path), progress=False)
    assert summary["drops"]["bad_encoding"] == 1
    assert summary["counts"]["published"] == len(th) - 1


def test_process_bag_command_errors_are_one_line(tmp_path, toy_model_path, capsys):
    assert process_bag_main([str(tmp_path / "missing"), str(tmp_path / "out"), "--model", str(toy_model_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("process_bag: bag not found") and "\n" not in err
    write_bag(tmp_path / "in", "mcap")
    assert process_bag_main([str(tmp_path / "in"), str(tmp_path / "out2"), "--model", str(tmp_path / "none.onnx")]) == 1
    assert "model file not found" in capsys.readouterr().err
    assert process_bag_main([str(tmp_path / "in"), str(tmp_path / "out3"), "--model", str(toy_model_path),
                             "--rgb-topic", "/nope"]) == 1
    assert "has no topic /nope" in capsys.readouterr().err


@pytest.mark.ros
def test_play_bag_replays_over_dds_with_clock(tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image

    from ros2_ssvif.bag_player import play
    from ros_helpers import spin_until

    rgb, th = write_bag(tmp_path / "in", "mcap")
    rclpy.init()
    try:
        node = rclpy.create_node("listener")
        got, clocks = [], []
        node.create_subscription(Image, "/rgb/image_raw", got.append, 50)
        node.create_subscription(Clock, "/clock", clocks.append, 50)
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        player = rclpy.create_node("player")
        counts = {}
        t = threading.Thread(target=lambda: counts.update(play(str(tmp_path / "in"), rate=2.0, clock=True,
                                                               start_delay=1.5, node=player)))
        t.start()
        while t.is_alive():
            ex.spin_once(timeout_sec=0.05)
        spin_until(ex, lambda: len(got) >= len(rgb), 5)
        assert counts == {"/rgb/image_raw": len(rgb), "/thermal/image_raw": len(th)}
        assert [stamp_seconds(m.header) for m in got] == pytest.approx(rgb)
        assert np.array_equal(image_to_array(got[0]), make_frames(0)[0])
        assert clocks and clocks[-1].clock.sec == 1000
    finally:
        rclpy.try_shutdown()
