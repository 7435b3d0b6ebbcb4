"""Launch ros2_ssvif's fusion_node.

    ros2 launch ros2_ssvif fusion.launch.py model_path:=/path/model.onnx \
        registration_file:=/path/registration.yaml \
        rgb_topic:=/camera/color/image_raw thermal_topic:=/boson/image_raw

Every key of config/fusion.yaml is also a launch argument; an argument left
empty keeps the value from ``params_file``. For bag replay add
``use_sim_time:=true`` and play the bag with ``ros2 bag play --clock``.
"""
import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

# Keep in sync with config/fusion.yaml (a test checks it).
PARAMETER_ARGUMENTS = (
    "model_path", "registration_file", "queue_size", "slop", "camera_qos", "qos_depth",
    "max_pending_pairs", "thermal_normalization", "thermal_low_percentile", "thermal_high_percentile",
    "thermal_fixed_min", "thermal_fixed_max", "providers", "intra_op_threads", "tensorrt_fp16",
    "tensorrt_cache_dir", "diagnostics_period",
)
TOPIC_ARGUMENTS = (
    ("rgb_topic", "rgb/image_raw"),
    ("thermal_topic", "thermal/image_raw"),
    ("fused_topic", "fused/image"),
    ("mask_topic", "segmentation/mask"),
)


def _fusion_node(context):
    overrides = {}
    for name in PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context)
        if value != "":
            overrides[name] = yaml.safe_load(value)
    overrides["use_sim_time"] = LaunchConfiguration("use_sim_time").perform(context).lower() == "true"
    remappings = [(default, LaunchConfiguration(arg).perform(context)) for arg, default in TOPIC_ARGUMENTS]
    return [Node(
        package="ros2_ssvif",
        executable="fusion_node",
        name="fusion_node",
        namespace=LaunchConfiguration("namespace").perform(context),
        parameters=[LaunchConfiguration("params_file").perform(context), overrides],
        remappings=remappings,
        output="screen",
    )]


def generate_launch_description():
    share = get_package_share_directory("ros2_ssvif")
    args = [
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "fusion.yaml"),
                              description="ROS 2 params file for fusion_node"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="true for bag replay with --clock"),
    ]
    args += [DeclareLaunchArgument(arg, default_value=default, description=f"remap {default}")
             for arg, default in TOPIC_ARGUMENTS]
    args += [DeclareLaunchArgument(name, default_value="", description=f"overrides {name} of params_file")
             for name in PARAMETER_ARGUMENTS]
    return LaunchDescription(args + [OpaqueFunction(function=_fusion_node)])
