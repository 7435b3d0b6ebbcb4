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

"""fusion_lifecycle_node over DDS: configure loads, activate subscribes, deactivate stops."""
import pytest


rclpy = pytest.importorskip('rclpy')
from lifecycle_msgs.msg import Transition  # noqa: E402, I100
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from ros2_ssvif.fusion_lifecycle_node import FusionLifecycleNode  # noqa: E402
from ros_helpers import make_frames, ros_image, spin_until  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402


pytestmark = pytest.mark.ros


class Managed:

    def __init__(self, model, ns):
        self.node = FusionLifecycleNode(namespace=ns, parameter_overrides=[
            Parameter('model_path', value=str(model)), Parameter('max_pending_pairs', value=50)])
        self.io = rclpy.create_node('lc_harness')
        self.ex = SingleThreadedExecutor()
        self.ex.add_node(self.node)
        self.ex.add_node(self.io)
        self.change = self.io.create_client(ChangeState, f'{ns}/fusion_node/change_state')
        self.get = self.io.create_client(GetState, f'{ns}/fusion_node/get_state')
        self.rgb = self.io.create_publisher(Image, f'{ns}/rgb/image_raw', qos_profile_sensor_data)
        self.th = self.io.create_publisher(
            Image, f'{ns}/thermal/image_raw', qos_profile_sensor_data
        )
        self.masks = []
        self.io.create_subscription(Image, f'{ns}/segmentation/mask', self.masks.append, 50)
        assert spin_until(
            self.ex, lambda: self.change.service_is_ready() and self.get.service_is_ready()
        )

    def transition(self, tid):
        fut = self.change.call_async(ChangeState.Request(transition=Transition(id=tid)))
        assert spin_until(self.ex, fut.done)
        return fut.result().success

    def state(self):
        fut = self.get.call_async(GetState.Request())
        assert spin_until(self.ex, fut.done)
        return fut.result().current_state.label

    def send(self, n, start):
        for k in range(n):
            v, t = make_frames(k)
            self.rgb.publish(ros_image(v, 'rgb8', start + k * 0.1, 'visible_optical_frame'))
            self.th.publish(
                ros_image(t, 'mono16', start + k * 0.1 + 0.004, 'thermal_optical_frame')
            )
            spin_until(self.ex, lambda: False, 0.03)

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()


def test_lifecycle_configure_activate_deactivate(toy_model_path):
    rclpy.init()
    try:
        m = Managed(toy_model_path, '/lc')
        assert m.state() == 'unconfigured' and m.node.pipeline is None
        assert m.transition(Transition.TRANSITION_CONFIGURE)
        assert m.state() == 'inactive' and m.node.pipeline is not None  # loaded during configure
        m.send(4, 1.0)
        assert m.rgb.get_subscription_count() == 0 and m.masks == []  # inactive: not subscribed
        assert m.transition(Transition.TRANSITION_ACTIVATE) and m.state() == 'active'
        assert spin_until(
            m.ex, lambda: m.rgb.get_subscription_count() > 0 and m.th.get_subscription_count() > 0
        )
        m.send(5, 2.0)
        assert spin_until(m.ex, lambda: len(m.masks) >= 4)
        assert m.transition(Transition.TRANSITION_DEACTIVATE) and m.state() == 'inactive'
        assert spin_until(m.ex, lambda: m.rgb.get_subscription_count() == 0)
        assert m.transition(Transition.TRANSITION_CLEANUP) and m.state() == 'unconfigured'
        assert m.node.pipeline is None
        m.close()
    finally:
        rclpy.try_shutdown()


def test_lifecycle_configure_fails_with_a_missing_model(tmp_path):
    rclpy.init()
    try:
        m = Managed(tmp_path / 'missing.onnx', '/lcbad')
        assert not m.transition(Transition.TRANSITION_CONFIGURE)
        assert m.state() == 'unconfigured'
        m.close()
    finally:
        rclpy.try_shutdown()
