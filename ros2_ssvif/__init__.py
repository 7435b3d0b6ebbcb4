"""ros2_ssvif runtime: register thermal onto visible, fuse, segment.

This package is what runs on the vehicle. It depends on numpy, OpenCV,
PyYAML and ONNX Runtime only; ROS (rclpy) is imported solely by the thin
node and tool shells, and the offline ``training`` package is never imported.
"""

__version__ = "0.1.0"
