"""The frame pipeline shared by the node, ``process_bag`` and the demo.

decode -> register -> infer (normalise thermal, fuse, segment) -> encode.
ROS-free: it takes anything with sensor_msgs/Image fields (rclpy messages,
rosbags messages) and fills output messages of the caller's type, so the
same code runs on a vehicle, on a bag and in tests. A frame that cannot be
processed raises :class:`FrameError` whose ``reason`` is the drop counter
it goes to; nothing is dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ros2_ssvif.image_codec import ImageDecodeError, fill_image_msg, image_to_array
from ros2_ssvif.model_runner import FusionSegmenter
from ros2_ssvif.registration import PassThroughRegistrar, RegistrationError, RegistrationMaps
from ros2_ssvif.stats import PipelineStats
from ros2_ssvif.thermal import ThermalNormalizer

VISIBLE_ENCODINGS = {"rgb8", "bgr8", "rgba8", "bgra8", "8UC3"}
THERMAL_ENCODINGS = {"mono8", "mono16", "8UC1", "16UC1", "32FC1"}


class FrameError(ValueError):
    """A frame was dropped; ``reason`` names the counter it goes to."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class FrameResult:
    visible: np.ndarray  # registered RGB uint8
    thermal: np.ndarray  # registered thermal, original dtype
    fused: np.ndarray  # RGB uint8
    mask: np.ndarray  # class ids uint8


class FramePipeline:
    def __init__(self, model: FusionSegmenter, registrar: RegistrationMaps | PassThroughRegistrar | None = None,
                 normalizer: ThermalNormalizer | None = None, stats: PipelineStats | None = None):
        self.model = model
        self.registrar = registrar or PassThroughRegistrar()
        self.normalizer = normalizer or ThermalNormalizer()
        self.stats = stats or PipelineStats()

    def decode(self, visible_msg, thermal_msg) -> tuple[np.ndarray, np.ndarray]:
        with self.stats.stage("decode"):
            if visible_msg.encoding not in VISIBLE_ENCODINGS:
                raise FrameError("bad_encoding", f"visible encoding {visible_msg.encoding!r} is not colour "
                                                 f"({', '.join(sorted(VISIBLE_ENCODINGS))})")
            if thermal_msg.encoding not in THERMAL_ENCODINGS:
                raise FrameError("bad_encoding", f"thermal encoding {thermal_msg.encoding!r} is not single-channel "
                                                 f"({', '.join(sorted(THERMAL_ENCODINGS))})")
            try:
                vis = image_to_array(visible_msg)
                thr = image_to_array(thermal_msg)
            except ImageDecodeError as exc:
                raise FrameError("bad_image", str(exc)) from None
        return vis, thr

    def run_arrays(self, visible: np.ndarray, thermal: np.ndarray) -> FrameResult:
        with self.stats.stage("register"):
            try:
                vis_r, thr_r = self.registrar.register_pair(visible, thermal)
            except RegistrationError as exc:
                raise FrameError("size_mismatch", str(exc)) from None
        with self.stats.stage("infer"):
            t01 = self.normalizer(thr_r)
            try:
                fused, mask = self.model(vis_r, t01)
            except ValueError as exc:
                raise FrameError("size_mismatch", str(exc)) from None
            except Exception as exc:  # ORT runtime failure: count it, keep running
                raise FrameError("inference_error", f"inference failed: {exc}") from None
        return FrameResult(vis_r, thr_r, fused, mask)

    def process(self, visible_msg, thermal_msg) -> FrameResult:
        vis, thr = self.decode(visible_msg, thermal_msg)
        return self.run_arrays(vis, thr)

    def encode(self, result: FrameResult, header, fused_msg, mask_msg):
        """Fill the caller's Image messages; both carry the visible header."""
        with self.stats.stage("encode"):
            fill_image_msg(fused_msg, result.fused, "rgb8", header)
            fill_image_msg(mask_msg, result.mask, "mono8", header)
        return fused_msg, mask_msg


def colorize_mask(mask: np.ndarray, palette) -> np.ndarray:
    """Class ids -> RGB using the model's palette (unknown ids black)."""
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
    lut[: len(pal)] = pal
    return lut[mask]
