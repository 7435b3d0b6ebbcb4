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
fusion_lifecycle_node: the fusion node as a managed (lifecycle) node.

configure: outputs, worker and diagnostics are created and the model and
registration are loaded (here, so a failed load fails the transition with
the reason); activate: the camera subscriptions start; deactivate: they
stop; cleanup: everything is dropped. Parameters, topics and diagnostics
are the plain ``fusion_node``'s (see :mod:`ros2_ssvif.node_core`), which
stays the default.
"""
from __future__ import annotations

import sys

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from ros2_ssvif.fusion_node import run
from ros2_ssvif.node_core import FusionCore


class FusionLifecycleNode(FusionCore, LifecycleNode):

    def __init__(self, node_name: str = 'fusion_node', **kwargs):
        LifecycleNode.__init__(self, node_name, **kwargs)
        self._core_init()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        error = self._core_configure(wait=True)
        if error:
            self.get_logger().error(f'configure failed: {error}')
            self._core_cleanup()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._core_activate()
        self.get_logger().info(f"active: listening on {self.input_topics['visible']} + "
                               f"{self.input_topics['thermal']}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._core_deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._core_cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._core_cleanup()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self):
        self._core_cleanup()
        return super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return run(FusionLifecycleNode, 'fusion_lifecycle_node', argv)


if __name__ == '__main__':
    sys.exit(main())
