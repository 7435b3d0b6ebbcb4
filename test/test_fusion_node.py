"""fusion_node over real rclpy + Fast DDS, in one process and across two."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from ros2_ssvif.fusion_node import FusionNode  # noqa: E402
from ros2_ssvif.image_codec import image_to_array, stamp_seconds  # noqa: E402
from ros_helpers import ros_image, spin_until, make_frames  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture()
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


class Harness:
    def __init__(self, node_params, ns="/t"):
        self.node = FusionNode(namespace=ns, parameter_overrides=node_params)
        self.io = rclpy.create_node("harness")
        self.ex = SingleThreadedExecutor()
        self.ex.add_node(self.node)
        self.ex.add_node(self.io)
        self.rgb = self.io.create_publisher(Image, f"{ns}/rgb/image_raw", qos_profile_sensor_data)
        self.th = self.io.create_publisher(Image, f"{ns}/thermal/image_raw", qos_profile_sensor_data)
        self.fused, self.mask, self.diag = [], [], []
        self.io.create_subscription(Image, f"{ns}/fused/image", self.fused.append, 10)
        self.io.create_subscription(Image, f"{ns}/segmentation/mask", self.mask.append, 10)
        self.io.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)

    def wait_matched(self):
        assert spin_until(self.ex, lambda: self.rgb.get_subscription_count() > 0 and self.th.get_subscription_count() > 0)

    def send(self, i, stamp, vis=None, thr=None, vis_enc="rgb8", thr_enc="mono16"):
        v, t = make_frames(i)
        self.rgb.publish(ros_image(v if vis is None else vis, vis_enc, stamp, "visible_optical_frame"))
        self.th.publish(ros_image(t if thr is None else thr, thr_enc, stamp + 0.004, "thermal_optical_frame"))

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()


def params(model, **kw):
    p = {"model_path": str(model), "thermal_normalization": "fixed", "thermal_fixed_min": 0.0,
         "thermal_fixed_max": 30000.0, "diagnostics_period": 0.2, "max_pending_pairs": 50}
    p.update(kw)
    return [Parameter(k, value=v) for k, v in p.items()]


def test_node_publishes_fused_and_mask_with_the_rgb_header(ros, toy_model_path):
    h = Harness(params(toy_model_path))
    try:
        h.wait_matched()
        stamps = [100.0 + k / 9 for k in range(6)]
        for k, s in enumerate(stamps):
            h.send(k, s)
            spin_until(h.ex, lambda: False, 0.05)
        # the last pair is decided only when a later frame arrives: send one more RGB
        v, _ = make_frames(0)
        h.rgb.publish(ros_image(v, "rgb8", 200.0, "visible_optical_frame"))
        assert spin_until(h.ex, lambda: len(h.mask) >= 6 and len(h.fused) >= 6)
        got = sorted(stamp_seconds(m.header) for m in h.mask)
        assert got == pytest.approx(stamps, abs=1e-6)
        m = min(h.mask, key=lambda m: stamp_seconds(m.header))
        ids = image_to_array(m)
        assert m.encoding == "mono8" and m.header.frame_id == "visible_optical_frame"
        assert ids[:, :8].max() == 0 and ids[:, 8:].min() == 1  # hot half from column 8 for frame 0
        f = min(h.fused, key=lambda m: stamp_seconds(m.header))
        assert f.encoding == "rgb8" and image_to_array(f)[0, 0].tolist() == [round((40 / 255 + 1000 / 30000) / 2 * 255)] * 3
    finally:
        h.close()


def test_bad_frames_are_counted_and_the_node_stays_up(ros, toy_model_path):
    h = Harness(params(toy_model_path), ns="/bad")
    try:
        h.wait_matched()
        h.send(0, 10.0, thr=np.zeros((48, 64, 3), np.uint8), thr_enc="rgb8")  # thermal in colour: refused
        h.send(1, 10.2, thr=np.zeros((20, 20), np.uint16))  # other size than visible: cannot fuse
        h.send(2, 10.4)
        h.send(3, 10.6)  # decides the pair at 10.4
        assert spin_until(h.ex, lambda: len(h.mask) >= 1)
        drops = h.node.stats.drops
        assert drops["bad_encoding"] == 1 and drops["size_mismatch"] == 1
        assert spin_until(h.ex, lambda: any(kv.key == "drop.bad_encoding" and kv.value == "1"
                                            for a in h.diag for s in a.status for kv in s.values))
    finally:
        h.close()


def test_missing_model_reports_error_then_recovers_when_the_parameter_is_set(ros, toy_model_path, tmp_path):
    h = Harness(params(tmp_path / "nope.onnx"), ns="/late")
    try:
        assert h.node.pipeline is None
        assert spin_until(h.ex, lambda: any(s.level == b"\x02" or s.level == 2 for a in h.diag for s in a.status))
        msg = [s.message for a in h.diag for s in a.status][-1]
        assert "model file not found" in msg
        h.wait_matched()
        h.send(0, 1.0)
        h.send(1, 1.2)
        assert spin_until(h.ex, lambda: h.node.stats.drops["not_ready"] >= 1)
        h.node.set_parameters([Parameter("model_path", value=str(toy_model_path)), Parameter("slop", value=0.02)])
        assert h.node.pipeline is not None and h.node.pairer.slop == 0.02
        h.send(2, 1.4)
        h.send(3, 1.6)
        assert spin_until(h.ex, lambda: len(h.mask) >= 1)
    finally:
        h.close()


def test_node_in_another_process(toy_model_path):
    """The installed console script, its params file and topic remapping, across processes."""
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ros2_ssvif.fusion_node", "--ros-args", "-r", "__ns:=/xp",
         "--params-file", "config/fusion.yaml", "-p", f"model_path:={toy_model_path}",
         "-p", "thermal_normalization:=fixed", "-p", "thermal_fixed_max:=30000.0",
         "-r", "rgb/image_raw:=/cam/rgb"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)))
    rclpy.init()
    try:
        io = rclpy.create_node("xp_harness")
        ex = SingleThreadedExecutor()
        ex.add_node(io)
        rgb = io.create_publisher(Image, "/cam/rgb", qos_profile_sensor_data)
        th = io.create_publisher(Image, "/xp/thermal/image_raw", qos_profile_sensor_data)
        masks = []
        sub = io.create_subscription(Image, "/xp/segmentation/mask", masks.append, 10)
        assert spin_until(ex, lambda: rgb.get_subscription_count() > 0 and th.get_subscription_count() > 0
                          and sub.get_publisher_count() > 0, 30), "node did not come up"
        for k in range(6):
            v, t = make_frames(k)
            rgb.publish(ros_image(v, "rgb8", 50.0 + k * 0.1, "visible_optical_frame"))
            th.publish(ros_image(t, "mono16", 50.0 + k * 0.1 + 0.003, "thermal_optical_frame"))
            spin_until(ex, lambda: False, 0.1)
        assert spin_until(ex, lambda: len(masks) >= 4, 20), f"masks: {len(masks)}"
        # best effort across processes: the very first sample may race discovery
        sent = {round(50.0 + k * 0.1, 3) for k in range(6)}
        assert {round(stamp_seconds(m.header), 3) for m in masks} <= sent
        io.destroy_node()
    finally:
        rclpy.try_shutdown()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "listening on /cam/rgb + /xp/thermal/image_raw" in out, out
