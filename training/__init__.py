"""Offline training for ros2_ssvif: fusion networks trained with SSVIF.

Never imported by the vehicle runtime (``ros2_ssvif``); it needs torch,
kornia and transformers, which the vehicle does not ship. Subpackages are
imported explicitly (``training.models`` ...) so importing ``training``
itself stays cheap.
"""
