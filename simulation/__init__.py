"""Synthetic RGB-thermal rig, scenes, calibration captures and drives.

The project ships no real data, so the demo and the tests make their own:
this package renders road scenes through a visible and a thermal camera
with different intrinsics, distortion and pose (so registration is needed),
renders calibration boards, and writes drives as real rosbag2 files.
"""
