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
fusion_node: the thin rclpy shell around :mod:`ros2_ssvif.pipeline`.

Subscribes to ``rgb/image_raw`` and ``thermal/image_raw`` (or their
``/compressed`` image_transport topics; relative names: remap or push into
a namespace), pairs them by header stamp, registers, fuses and segments in
a worker thread, and publishes ``fused/image``, ``fused/camera_info``,
``segmentation/mask``, ``segmentation/color_mask`` (and optionally
``segmentation/overlay``), all stamped with the visible frame's header.
Health per input and for the fusion goes to ``/diagnostics``.

A missing or broken model or registration file does not kill the node: it
stays up, reports ERROR on /diagnostics, counts incoming pairs as dropped
(``not_ready``) and loads the file when the parameter is set. For a managed
start (configure loads, activate subscribes) run ``fusion_lifecycle_node``.
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from ros2_ssvif.cli import run_command, say
from ros2_ssvif.config import ConfigError
from ros2_ssvif.node_core import FusionCore


START_ERRORS = (ConfigError, InvalidParameterTypeException, InvalidParameterValueException)
try:  # rcl's own start-up errors: an unreadable --params-file, a malformed -p
    from rclpy._rclpy_pybind11 import RCLError
except ImportError:  # pragma: no cover - every rclpy since Foxy has it
    RCLError = RuntimeError


class FusionNode(FusionCore, Node):

    def __init__(self, node_name: str = 'fusion_node', **kwargs):
        Node.__init__(self, node_name, **kwargs)
        self._core_init()
        self._core_configure(wait=False)
        self._core_activate()
        self.get_logger().info(
            f"listening on {self.input_topics['visible']} + {self.input_topics['thermal']} "
            f'(qos {self.cfg.camera_qos}, slop {self.cfg.slop}s, queue {self.cfg.queue_size}); '
            f"{'model ready' if self.worker.state == 'ready' else self.worker.message}")

    def destroy_node(self):
        self._core_cleanup()
        return super().destroy_node()


def run(node_class, prog: str, argv: list[str] | None = None) -> int:
    """Spin ``node_class`` until Ctrl-C (exit 0); bad parameters at start-up: one line, exit 2."""
    try:
        rclpy.init(args=argv if argv is not None else sys.argv)
    except RCLError as exc:  # drop rcl's ', at /path/file.c:N' source locations
        say(prog, ' '.join(str(exc).split(', at /')[0].split()))
        return 2

    def spin() -> None:
        node = None
        try:
            node = node_class()
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass  # a node stopped by Ctrl-C ends normally
        finally:
            if node is not None:
                if rclpy.ok():  # after Ctrl-C the context is gone: /rosout cannot take it
                    node.get_logger().info(f'summary: {node.stats.summary()}')
                else:
                    say(prog, f'summary: {node.stats.summary()}')
                node.destroy_node()

    try:
        return run_command(prog, spin, errors=START_ERRORS, plain=True)
    finally:  # after the error was reported and dropped: a half-built node is gone by now
        rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    return run(FusionNode, 'fusion_node', argv)


if __name__ == '__main__':
    sys.exit(main())
