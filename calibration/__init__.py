"""Calibration of an RGB + thermal rig into a ros2_ssvif registration.

Board detection that copes with thermal images, per-sensor intrinsics, the
joint pose, the thermal->visible homography and crop, and the report; the
``calibrate`` and ``register`` command lines sit on top (``cli``,
``register_cli``). ``pipeline.calibrate_folders`` is the one-call entry.
"""
