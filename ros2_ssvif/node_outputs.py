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
The node's output topics and the sink the pipeline publishes through (rclpy shell).

| key | topic | type |
|---|---|---|
| fused | ``fused/image`` | sensor_msgs/Image rgb8 |
| camera_info | ``fused/camera_info`` | sensor_msgs/CameraInfo, undistorted (D = 0) |
| mask | ``segmentation/mask`` | sensor_msgs/Image mono8 class ids |
| color_mask | ``segmentation/color_mask`` | sensor_msgs/Image rgb8, the model's palette |
| overlay | ``segmentation/overlay`` | sensor_msgs/Image rgb8 (``publish_overlay``) |
| labels | ``segmentation/label_info`` | vision_msgs/LabelInfo, transient local (if installed) |

Every output of a pair carries the visible frame's header.
"""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, QoSProfile
from ros2_ssvif.labels import fill_label_info
from ros2_ssvif.params import Configurable
from sensor_msgs.msg import CameraInfo, Image


TOPICS = {
    'fused': 'fused/image',
    'camera_info': 'fused/camera_info',
    'mask': 'segmentation/mask',
    'color_mask': 'segmentation/color_mask',
    'overlay': 'segmentation/overlay',
}
LABEL_TOPIC = 'segmentation/label_info'


def vision_msgs_label_info():
    """(LabelInfo, VisionClass) classes, or None where vision_msgs is not installed."""
    try:
        from vision_msgs.msg import LabelInfo, VisionClass
    except ImportError:
        return None
    return LabelInfo, VisionClass


class RosSink(Configurable):
    """Publishers for the pipeline's outputs; ``overlay`` only while ``publish_overlay``."""

    config_part = 'outputs'
    sequence = list  # rclpy wants lists for variable-length arrays (CameraInfo.d)

    def __init__(self, node, depth: int = 5):
        self.node = node
        self.publish_overlay = False
        self.pubs = {
            key: node.create_publisher(CameraInfo if key == 'camera_info' else Image, topic, depth)
            for key, topic in TOPICS.items()
        }
        self.label_types = vision_msgs_label_info()
        self.label_pub = None
        if self.label_types is not None:
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self.label_pub = node.create_publisher(self.label_types[0], LABEL_TOPIC, latched)

    def wants(self, key: str) -> bool:
        return key != 'overlay' or self.publish_overlay

    def new_message(self, key: str, header):
        return CameraInfo() if key == 'camera_info' else Image()

    def publish(self, key: str, msg) -> None:
        self.pubs[key].publish(msg)

    def publish_labels(self, class_names) -> bool:
        """Latch the class names as LabelInfo; False where vision_msgs is missing."""
        if self.label_pub is None:
            return False
        LabelInfo, VisionClass = self.label_types
        msg = fill_label_info(LabelInfo(), class_names, vision_class=VisionClass)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.label_pub.publish(msg)
        return True

    def destroy(self) -> None:
        for pub in list(self.pubs.values()) + ([self.label_pub] if self.label_pub else []):
            self.node.destroy_publisher(pub)
