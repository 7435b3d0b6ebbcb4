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
The frame pipeline shared by the node, ``process_bag``, ``ssvif_fuse`` and the demo.

decode -> register -> infer (normalise thermal, fuse, segment) -> encode ->
publish, as named stages with one :meth:`FramePipeline.step` that the node
and the bag tool both call, so timing, counting and the set of outputs
live in one place. ROS-free: it reads anything with sensor_msgs/Image or
CompressedImage fields (rclpy or rosbags messages) and fills output
messages the caller's :class:`OutputSink` creates, so the same code runs on
a vehicle, on a bag and in tests. A frame that cannot be processed raises
:class:`FrameError` whose ``reason`` is the drop counter it went to;
nothing is dropped silently.

After a pair is published, every Nth one is handed to the registration
monitor (:mod:`ros2_ssvif.alignment`, timed as ``align``), and the
monitor's autocorrect translation, when it changes, is applied to the
registrar before the next pair is registered.

:func:`build_pipeline` builds one from the config (model, registration
maps, thermal normaliser, each from its fields by name, and the pipeline's
own ``pipeline`` fields); the node's worker and ``process_bag`` both use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from ros2_ssvif.alignment import AlignmentMonitor
from ros2_ssvif.camera_info import fill_camera_info_msg
from ros2_ssvif.compressed import compressed_to_array, is_compressed
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.image_codec import fill_image_msg, image_to_array, ImageDecodeError
from ros2_ssvif.image_codec import stamp_seconds
from ros2_ssvif.labels import colorize_mask, overlay, palette_lut
from ros2_ssvif.model_runner import FusionSegmenter
from ros2_ssvif.params import Configurable, RELOAD_PARTS
from ros2_ssvif.registration import load_registration, PassThroughRegistrar, RegistrationError
from ros2_ssvif.registration import RegistrationMaps
from ros2_ssvif.stats import PipelineStats, STAGES
from ros2_ssvif.thermal import ThermalNormalizer


VISIBLE_ENCODINGS = {'rgb8', 'bgr8', 'rgba8', 'bgra8', '8UC3'}
THERMAL_ENCODINGS = {'mono8', 'mono16', '8UC1', '16UC1', '32FC1'}
OUTPUTS = ('fused', 'camera_info', 'mask', 'color_mask', 'overlay')


class FrameError(SsvifError, ValueError):
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
    thermal01: np.ndarray | None = None  # registered thermal in [0, 1], as the model saw it


class OutputSink(Protocol):
    """Where :meth:`FramePipeline.step` puts its outputs (node publishers, a bag writer)."""

    def wants(self, key: str) -> bool: ...

    def new_message(self, key: str, header): ...

    def publish(self, key: str, msg) -> None: ...


class FramePipeline(Configurable):
    """decode -> register -> infer -> encode -> publish; ``step`` runs one pair."""

    config_part = 'pipeline'

    def __init__(self, model: FusionSegmenter,
                 registrar: RegistrationMaps | PassThroughRegistrar | None = None,
                 normalizer: ThermalNormalizer | None = None, stats: PipelineStats | None = None,
                 max_input_pixels: int | None = None, overlay_alpha: float = 0.5,
                 aligner: AlignmentMonitor | None = None):
        self.model = model
        self.aligner = aligner  # checks every Nth pair after it is published (alignment.py)
        self.on_correction = None  # called as on_correction(old, new) when autocorrect moves
        self.registrar = registrar or PassThroughRegistrar()
        self.normalizer = normalizer or ThermalNormalizer()
        self.stats = stats or PipelineStats()
        self.max_input_pixels = max_input_pixels
        self.overlay_alpha = overlay_alpha
        self.palette = palette_lut(model.metadata.palette)
        self.camera_matrix = self.registrar.output_camera_matrix()
        if aligner is not None and aligner.source is None:
            aligner.bind(self.registrar)

    # -- stages -------------------------------------------------------------
    def _check_size(self, what: str, h: int, w: int) -> None:
        if self.max_input_pixels is not None and int(h) * int(w) > self.max_input_pixels:
            raise FrameError('too_large', f'{what} frame {w}x{h} has more than max_input_pixels='
                                          f'{self.max_input_pixels} pixels')

    def _decode_one(self, msg, what: str, colour: bool) -> np.ndarray:
        if is_compressed(msg):
            img = compressed_to_array(msg, lambda h, w: self._check_size(what, h, w))
            self._check_size(what, *img.shape[:2])  # where the header could not tell
            if colour and (img.ndim != 3 or img.dtype != np.uint8):
                raise FrameError('bad_encoding', f'{what} compressed image is not 8-bit colour '
                                                 f'({msg.format!r})')
            if not colour and img.ndim != 2:
                raise FrameError('bad_encoding', f'{what} compressed image is not single-channel '
                                                 f'({msg.format!r})')
            return img
        allowed = VISIBLE_ENCODINGS if colour else THERMAL_ENCODINGS
        if msg.encoding not in allowed:
            kind = 'colour' if colour else 'single-channel'
            raise FrameError('bad_encoding', f'{what} encoding {msg.encoding!r} is not {kind} '
                                             f"({', '.join(sorted(allowed))})")
        self._check_size(what, msg.height, msg.width)
        return image_to_array(msg)

    def decode(self, visible_msg, thermal_msg) -> tuple[np.ndarray, np.ndarray]:
        with self.stats.stage('decode'):
            try:
                return (self._decode_one(visible_msg, 'visible', True),
                        self._decode_one(thermal_msg, 'thermal', False))
            except ImageDecodeError as exc:
                raise FrameError('bad_image', str(exc)) from None

    def run_arrays(self, visible: np.ndarray, thermal: np.ndarray) -> FrameResult:
        """Register, normalise, fuse and segment one pair of arrays (no ROS, no messages)."""
        with self.stats.stage('register'):
            try:
                vis_r, thr_r = self.registrar.register_pair(visible, thermal)
            except RegistrationError as exc:
                raise FrameError('size_mismatch', str(exc)) from None
        with self.stats.stage('infer'):
            t01 = self.normalizer(thr_r)
            try:
                fused, mask = self.model(vis_r, t01)
            except ValueError as exc:
                raise FrameError('size_mismatch', str(exc)) from None
            except Exception as exc:  # ORT runtime failure: count it, keep running
                raise FrameError('inference_error', f'inference failed: {exc}') from None
        return FrameResult(vis_r, thr_r, fused, mask, t01)

    def process(self, visible_msg, thermal_msg) -> FrameResult:
        vis, thr = self.decode(visible_msg, thermal_msg)
        self._follow_correction()
        return self.run_arrays(vis, thr)

    # -- registration health ---------------------------------------------------
    def _follow_correction(self) -> None:
        """Apply the monitor's autocorrect translation to the registration, once it changed."""
        if self.aligner is None or self.aligner.source is not self.registrar:
            return
        wanted = self.aligner.correction
        old = self.registrar.thermal_offset
        if wanted != old:
            self.registrar.set_thermal_offset(*wanted)
            self.stats.count('registration_corrections')
            if self.on_correction is not None:
                self.on_correction(old, wanted)

    def check_alignment(self, result: FrameResult, stamp: float) -> None:
        """Every Nth pair: measure the registered pair (after it was published)."""
        aligner = self.aligner
        if aligner is None or result.thermal01 is None or aligner.source is not self.registrar:
            return  # a pipeline on its way out after a new registration: not this verdict
        if not aligner.due():
            return
        with self.stats.stage('align'):
            try:
                aligner.update(stamp, result.visible, result.thermal01,
                               self.registrar.thermal_offset)
            except (ValueError, cv2.error):  # never let the monitor cost a frame
                self.stats.count('registration_check_errors')

    def outputs(self, result: FrameResult, header, sink: OutputSink) -> dict:
        """Every output the sink wants, as messages stamped with ``header``."""
        msgs: dict = {}
        color = None
        for key in OUTPUTS:
            if not sink.wants(key):
                continue
            msg = sink.new_message(key, header)
            if key == 'fused':
                fill_image_msg(msg, result.fused, 'rgb8', header)
            elif key == 'mask':
                fill_image_msg(msg, result.mask, 'mono8', header)
            elif key == 'camera_info':
                h, w = result.fused.shape[:2]
                fill_camera_info_msg(msg, self.camera_matrix, w, h, header,
                                     sequence=getattr(sink, 'sequence', list))
            else:
                color = colorize_mask(result.mask, self.palette) if color is None else color
                img = (
                    color
                    if key == 'color_mask'
                    else overlay(result.fused, color, self.overlay_alpha)
                )
                fill_image_msg(msg, img, 'rgb8', header)
            msgs[key] = msg
        return msgs

    def step(self, visible_msg, thermal_msg, sink: OutputSink) -> FrameResult:
        """
        One pair through every stage, published to ``sink`` and counted.

        A FrameError is counted under its reason and re-raised for the
        caller to log; any other exception is counted as ``internal_error``.
        """
        self.stats.count('pairs_processed')
        try:
            result = self.process(visible_msg, thermal_msg)
            with self.stats.stage('encode'):
                msgs = self.outputs(result, visible_msg.header, sink)
            with self.stats.stage('publish'):
                for key, msg in msgs.items():
                    sink.publish(key, msg)
        except FrameError as exc:
            self.stats.drop(exc.reason)
            raise
        except Exception:
            self.stats.drop('internal_error')
            raise
        self.stats.count('published')
        lasts = [self.stats.last(s) for s in STAGES]
        self.stats.record('total', sum(v for v in lasts if v is not None))
        self.check_alignment(result, stamp_seconds(visible_msg.header))
        return result


def build_pipeline(cfg, stats: PipelineStats | None = None,
                   aligner: AlignmentMonitor | None = None, reuse: FramePipeline | None = None,
                   parts=RELOAD_PARTS) -> FramePipeline:
    """
    Build the pipeline ``cfg`` describes: the node's worker and ``process_bag`` use this.

    Each part comes from its config fields by name: the model
    (:meth:`FusionSegmenter.from_config`; slow with TensorRT, whose engine
    is built for the registered size), the registration maps, the thermal
    normaliser (:meth:`ThermalNormalizer.from_config`) and the pipeline's
    own live fields (``configure``). With ``reuse``, only the ``parts``
    named (of ``model``, ``registration``, ``thermal``) are built anew; the
    others are taken from it.
    """
    fresh = set(RELOAD_PARTS) if reuse is None else set(parts)
    registration = (load_registration(cfg.registration_file)
                    if cfg.registration_file and fresh & {'model', 'registration'} else None)
    if 'model' in fresh:
        ow, oh = registration.output_size if registration is not None else (None, None)
        model = FusionSegmenter.from_config(cfg, image_hw=(oh, ow) if ow else None)
    else:
        model = reuse.model
    if 'registration' in fresh:
        registrar = (registration.build_maps() if registration is not None
                     else PassThroughRegistrar())
    else:
        registrar = reuse.registrar
    normalizer = (ThermalNormalizer.from_config(cfg) if 'thermal' in fresh
                  else reuse.normalizer)
    return FramePipeline(model, registrar, normalizer, stats, aligner=aligner).configure(cfg)


__all__ = ['FrameError', 'FramePipeline', 'FrameResult', 'OutputSink', 'OUTPUTS', 'build_pipeline',
           'colorize_mask']
