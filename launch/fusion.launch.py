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
Launch ros2_ssvif's fusion_node.

    ros2 launch ros2_ssvif fusion.launch.py model_path:=/path/model.onnx \
        registration_file:=/path/registration.yaml \
        rgb_topic:=/camera/color/image_raw thermal_topic:=/boson/image_raw

Every parameter of the node is also a launch argument, with its description:
both come from the config dataclass (ros2_ssvif/config.py, through
``ros2_ssvif.param_files.launch_parameters``), so this file names none of
them. An argument left empty keeps the value from ``params_file`` (keyed
``/**``, so it applies in any namespace). A value is converted to the parameter's type (``slop:=1``
is the float 1.0). ``model_path`` empty is the package's default model; a
relative path is looked up in the package share directory, then in the
current directory. Compressed cameras: ``rgb_transport:=compressed`` (the
node then subscribes to ``<rgb_topic>/compressed``). ``lifecycle:=true``
starts ``fusion_lifecycle_node`` (configure, then activate it, e.g. with
``ros2 lifecycle set``). For bag replay add ``use_sim_time:=true`` and play
the bag with ``ros2 bag play --clock``.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
import yaml


TOPIC_ARGUMENTS = (
    ('rgb_topic', 'rgb/image_raw'),
    ('thermal_topic', 'thermal/image_raw'),
    ('fused_topic', 'fused/image'),
    ('camera_info_topic', 'fused/camera_info'),
    ('mask_topic', 'segmentation/mask'),
    ('color_mask_topic', 'segmentation/color_mask'),
    ('overlay_topic', 'segmentation/overlay'),
    ('label_info_topic', 'segmentation/label_info'),
)


def _typed(name: str, text: str, kinds: dict):
    """Return a launch argument's text as the parameter's type (yaml for lists and bools)."""
    value = yaml.safe_load(text)
    kind = kinds.get(name)
    if kind == 'float' and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == 'str':
        return text
    return value


def _fusion_node(context):
    from ros2_ssvif.param_files import launch_parameters

    overrides = {}
    for name, _, kind in launch_parameters():
        value = LaunchConfiguration(name).perform(context)
        if value != '':
            overrides[name] = _typed(name, value, {name: kind})
    overrides['use_sim_time'] = (
        LaunchConfiguration('use_sim_time').perform(context).lower() == 'true'
    )
    remappings = [
        (default, LaunchConfiguration(arg).perform(context)) for arg, default in TOPIC_ARGUMENTS
    ]
    lifecycle = LaunchConfiguration('lifecycle').perform(context).lower() == 'true'
    return [Node(
        package='ros2_ssvif',
        executable='fusion_lifecycle_node' if lifecycle else 'fusion_node',
        name='fusion_node',
        namespace=LaunchConfiguration('namespace').perform(context),
        parameters=[LaunchConfiguration('params_file').perform(context), overrides],
        remappings=remappings,
        output='screen',
    )]


def generate_launch_description():
    from ros2_ssvif.param_files import launch_parameters

    share = get_package_share_directory('ros2_ssvif')
    args = [
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share, 'config', 'fusion.yaml'),
            description='ROS 2 params file for fusion_node',
        ),
        DeclareLaunchArgument('namespace', default_value='', description='namespace of the node'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', description='true for bag replay with --clock'
        ),
        DeclareLaunchArgument(
            'lifecycle',
            default_value='false',
            description='true: run fusion_lifecycle_node (configure/activate)',
        ),
    ]
    args += [DeclareLaunchArgument(arg, default_value=default, description=f'remap {default}')
             for arg, default in TOPIC_ARGUMENTS]
    args += [
        DeclareLaunchArgument(
            name, default_value='', description=f'{description} Empty: params_file decides.'
        )
        for name, description, _ in launch_parameters()
    ]
    return LaunchDescription(args + [OpaqueFunction(function=_fusion_node)])
