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
    """Return a visible frame and a thermal frame whose right half is hot from column ``8 + i``."""
    vis = np.full((h, w, 3), 40 + i, np.uint8)
    thr = np.full((h, w), 1000, np.uint16)
    thr[:, 8 + i:] = 30000
    return vis, thr


def compress_bag(src, dst, rgb_codec: str = 'jpeg', thermal_codec: str = 'png') -> dict:
    """
    Re-record a raw drive as image_transport would: ``<topic>/compressed`` CompressedImage.

    Colour goes to JPEG (format 'rgb8; jpeg compressed bgr8'), 16-bit thermal
    to 16-bit PNG ('mono16; png compressed mono16'); other topics are copied.
    Returns messages written per topic.
    """
    from ros2_ssvif.bag_io import BagWriter, iter_raw, storage_of, typestore
    from ros2_ssvif.compressed import array_to_compressed
    from ros2_ssvif.image_codec import image_to_array

    ts = typestore()
    counts: dict = {}
    with BagWriter(dst, storage_of(src)) as w:
        CompressedImage = w.msg_class('sensor_msgs/msg/CompressedImage')
        for topic, msgtype, t_ns, raw in iter_raw(src):
            if msgtype == 'sensor_msgs/msg/Image':
                msg = ts.deserialize_cdr(raw, msgtype)
                arr = image_to_array(msg)
                codec = rgb_codec if arr.ndim == 3 else thermal_codec
                enc = 'rgb8' if arr.ndim == 3 else msg.encoding
                fmt, data = array_to_compressed(arr, enc, codec)
                out = CompressedImage(
                    header=msg.header, format=fmt, data=np.frombuffer(data, np.uint8)
                )
                topic, msgtype = topic + '/compressed', 'sensor_msgs/msg/CompressedImage'
                w.write(topic, msgtype, t_ns, out)
            else:
                w.write_raw(topic, msgtype, t_ns, raw)
            counts[topic] = counts.get(topic, 0) + 1
    return counts


class NodeHarness:
    """
    A FusionNode and a harness node in one executor.

    Publishers for the cameras, subscribers for every output and /diagnostics, and a
    parameter client that goes over DDS.
    """

    def __init__(self, node_params, ns='/t', transport='raw', rgb_base=None, **node_kw):
        from diagnostic_msgs.msg import DiagnosticArray
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter_client import AsyncParameterClient
        from rclpy.qos import qos_profile_sensor_data
        from ros2_ssvif.fusion_node import FusionNode
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image

        self.node = FusionNode(namespace=ns, parameter_overrides=node_params, **node_kw)
        self.io = rclpy.create_node('harness')
        self.ex = SingleThreadedExecutor()
        self.ex.add_node(self.node)
        self.ex.add_node(self.io)
        suffix = '' if transport == 'raw' else '/' + transport
        msg_type = Image if transport == 'raw' else CompressedImage
        rgb = rgb_base or f'{ns}/rgb/image_raw'
        self.rgb = self.io.create_publisher(msg_type, rgb + suffix, qos_profile_sensor_data)
        self.th = self.io.create_publisher(
            msg_type, f'{ns}/thermal/image_raw{suffix}', qos_profile_sensor_data
        )
        self.out = {k: [] for k in ('fused', 'mask', 'color', 'info', 'overlay')}
        for key, topic, t in (
            ('fused', 'fused/image', Image),
            ('mask', 'segmentation/mask', Image),
            ('color', 'segmentation/color_mask', Image),
            ('info', 'fused/camera_info', CameraInfo),
            ('overlay', 'segmentation/overlay', Image),
        ):
            self.io.create_subscription(t, f'{ns}/{topic}', self.out[key].append, 20)
        self.fused, self.mask = self.out['fused'], self.out['mask']
        self.diag = []
        self.io.create_subscription(DiagnosticArray, '/diagnostics', self.diag.append, 50)
        self.params = AsyncParameterClient(self.io, f'{ns}/fusion_node')

    def wait_ready(self):
        assert spin_until(
            self.ex,
            lambda: (
                self.rgb.get_subscription_count() > 0
                and self.th.get_subscription_count() > 0
                and self.node.pipeline is not None
            ),
        )

    def send(self, i, stamp, vis=None, thr=None, vis_enc='rgb8', thr_enc='mono16'):
        v, t = make_frames(i)
        self.rgb.publish(
            ros_image(v if vis is None else vis, vis_enc, stamp, 'visible_optical_frame')
        )
        self.th.publish(
            ros_image(t if thr is None else thr, thr_enc, stamp + 0.004, 'thermal_optical_frame')
        )

    def send_pairs(self, first, n, start, step=0.1):
        for k in range(n):
            self.send(first + k, start + k * step)
            spin_until(self.ex, lambda: False, 0.03)

    def call(self, future, timeout=10.0):
        assert spin_until(self.ex, future.done, timeout)
        return future.result()

    def set(self, **values):  # noqa: A003 (harness.set(...) reads as the service)
        """Set parameters over DDS (the SetParameters service); returns the results."""
        from rclpy.parameter import Parameter

        res = self.call(
            self.params.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        )
        return res.results

    def status(self, suffix):
        """Return the latest diagnostics status whose name ends with ``suffix``."""
        for arr in reversed(self.diag):
            for s in arr.status:
                if (
                    s.name.endswith(suffix)
                    and s.hardware_id == self.node.get_fully_qualified_name()
                ):
                    return s
        return None

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()


def level(status):
    return status.level[0] if isinstance(status.level, (bytes, bytearray)) else int(status.level)


def node_params(model, **kw):
    """
    Build rclpy Parameters for a test node.

    The toy model, fixed thermal window, fast diagnostics.
    """
    from rclpy.parameter import Parameter

    p = {'model_path': str(model), 'thermal_normalization': 'fixed', 'thermal_fixed_min': 0.0,
         'thermal_fixed_max': 30000.0, 'diagnostics_period': 0.2, 'max_pending_pairs': 50}
    p.update(kw)
    return [Parameter(k, value=v) for k, v in p.items()]


def small_registration(tmp_path):
    """Return a 64x48 rig with known K: crop (8, 4, 48, 40) resized to 96x80 (scale 2)."""
    from ros2_ssvif.camera_info import CameraInfo as CamModel
    from ros2_ssvif.registration import Registration

    K = np.array([[50.0, 0, 32.0], [0, 50.0, 24.0], [0, 0, 1]])
    cam = CamModel('cam', 64, 48, K, np.zeros(5))
    reg = Registration(
        cam, CamModel('th', 64, 48, K, np.zeros(5)), np.eye(3), (8, 4, 48, 40), (96, 80)
    )
    reg.save(tmp_path / 'registration.yaml')
    return tmp_path / 'registration.yaml', reg
