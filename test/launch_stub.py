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
Run ``launch/fusion.launch.py`` with stand-ins for ROS 2 launch (not installable from pip).

Why: the launch file derives its arguments from the config dataclass at
load time, so reading it as text says nothing; running it does. The
stand-ins record what the file declares and which node it would start
(:class:`LaunchRun`); ``test_launch_file_runs_where_launch_is_installed``
runs it with the real packages where they exist.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
import sys
import types


REPO = Path(__file__).resolve().parents[1]


class _Recorded:

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchRun:
    """``arguments``: name -> (default, description); ``node(values)``: the Node it starts."""

    def __init__(self, description, values_box: dict):
        self._box = values_box
        entities = description.args[0]
        self.arguments = {}
        self._function = None
        for e in entities:
            if e.kwargs.get('function') is not None:
                self._function = e.kwargs['function']
            else:
                self.arguments[e.args[0]] = (e.kwargs['default_value'], e.kwargs['description'])

    def node(self, values: dict | None = None):
        """Return the recorded Node for launch argument ``values`` (the rest: defaults)."""
        self._box.clear()
        self._box.update({k: d for k, (d, _) in self.arguments.items()})
        self._box.update(values or {})
        (node,) = self._function(None)
        return node.kwargs


def run_launch_file(monkeypatch) -> LaunchRun:
    """Load and run the launch file with stand-in modules; see the module docstring."""
    values: dict = {}

    class LaunchConfiguration:

        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return values[self.name]

    stand_ins = {
        'launch': types.SimpleNamespace(LaunchDescription=_Recorded),
        'launch.actions': types.SimpleNamespace(DeclareLaunchArgument=_Recorded,
                                                OpaqueFunction=_Recorded),
        'launch.substitutions': types.SimpleNamespace(LaunchConfiguration=LaunchConfiguration),
        'launch_ros': types.SimpleNamespace(),
        'launch_ros.actions': types.SimpleNamespace(Node=_Recorded),
        'ament_index_python': types.SimpleNamespace(),
        'ament_index_python.packages': types.SimpleNamespace(
            get_package_share_directory=lambda name: str(REPO)),
    }
    for name, module in stand_ins.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location('fusion_launch_stub',
                                                  REPO / 'launch' / 'fusion.launch.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return LaunchRun(mod.generate_launch_description(), values)
