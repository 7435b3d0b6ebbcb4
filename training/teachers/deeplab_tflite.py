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
Thin wrapper around the quantised DeepLab (MobileNet-EdgeTPU) Cityscapes TFLite model.

Why: a second, independent Cityscapes teacher for offline pseudo-labels
(``deeplab_mobilenet_edgetpu_slim_cityscapes_quant.tflite``, Apache-2.0, from
google-coral/test_data). It runs on the CPU with ``ai-edge-litert``, a
training-time tool only: it is imported lazily, never by the vehicle runtime.

The model takes uint8 RGB 1 x 513 x 513 x 3 (plain resize, no letterbox) and
its only output is an ArgMax (int64 Cityscapes train ids). A confidence needs
the logits before that ArgMax: the interpreter is built with
``experimental_preserve_all_tensors=True``, the ARG_MAX op's input tensor (the
uint8 1 x 513 x 513 x 19 logits after the final bilinear resize) is located in
the graph, dequantised with its scale / zero point, and turned into softmax
probabilities. On first use the wrapper checks that the argmax of those
logits reproduces the model's own output.
"""
from __future__ import annotations

from pathlib import Path
import warnings

import cv2
import numpy as np

from .common import (
    check_rgb,
    CONFIDENCE_KINDS,
    finish,
    resize_linear,
    resize_nearest,
    softmax,
    TeacherOutput,
)


MODEL_FILE = 'deeplab_mobilenet_edgetpu_slim_cityscapes_quant.tflite'


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:  # one line, naming the package
        raise ImportError('the DeepLab teacher needs the ai-edge-litert package '
                          '(pip install -r requirements/training.txt)') from e
    return Interpreter


class DeepLabTFLite:
    """
    The TFLite DeepLab Cityscapes segmenter on the CPU.

    ``predict_ids`` gives Cityscapes train ids at the input size;
    ``predict_probs`` gives softmax probabilities (19, h, w) at the model's
    513 x 513 (or the input size with ``at_input_size=True``), from the logits
    that feed the model's ArgMax.
    """

    def __init__(self, model_path: str | Path, num_threads: int | None = None,
                 with_logits: bool = True):
        path = Path(model_path)
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f'DeepLab TFLite model not found: {path}')
        interpreter_cls = _interpreter_class()
        self.path = path
        self.with_logits = with_logits
        with warnings.catch_warnings():  # "intended for debugging": it is what exposes the logits
            warnings.filterwarnings('ignore', message='.*experimental_preserve_all_tensors')
            self._it = interpreter_cls(model_path=str(path), num_threads=num_threads,
                                       experimental_preserve_all_tensors=with_logits)
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        out = self._it.get_output_details()[0]
        if inp['dtype'] != np.uint8 or len(inp['shape']) != 4 or inp['shape'][3] != 3:
            raise ValueError(f'{path.name}: expected a uint8 NHWC RGB input, got '
                             f"{inp['dtype']} {inp['shape']}")
        self._in_index = int(inp['index'])
        self._out_index = int(out['index'])
        self.input_hw = (int(inp['shape'][1]), int(inp['shape'][2]))
        self._logits_index, self._logits_q = (self._find_logits() if with_logits
                                              else (None, None))
        self._checked = False

    @property
    def has_logits(self) -> bool:
        """Whether probabilities (and so a confidence) are available."""
        return self._logits_index is not None

    def _find_logits(self) -> tuple[int, tuple[float, int]]:
        """Index and (scale, zero point) of the tensor the ArgMax reads."""
        details = {d['index']: d for d in self._it.get_tensor_details()}
        index = None
        get_ops = getattr(self._it, '_get_ops_details', None)  # not public API: fall back below
        if get_ops is not None:
            for op in get_ops():
                if op['op_name'] == 'ARG_MAX' and self._out_index in list(op['outputs']):
                    index = int(op['inputs'][0])
        if index is None:  # the last 4-D tensor at the output's resolution
            hw = tuple(self._it.get_output_details()[0]['shape'][1:3])
            cands = [i for i, d in details.items()
                     if len(d['shape']) == 4 and tuple(d['shape'][1:3]) == hw
                     and d['shape'][3] > 1 and i != self._in_index]
            if not cands:
                raise RuntimeError(f'{self.path.name}: no logits tensor before the ArgMax')
            index = max(cands)
        scale, zero = details[index]['quantization']
        return index, (float(scale) if scale else 1.0, int(zero))

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        rgb = check_rgb(rgb)
        h, w = self.input_hw
        x = rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h),
                                                           interpolation=cv2.INTER_LINEAR)
        self._it.set_tensor(self._in_index, np.ascontiguousarray(x)[None])
        self._it.invoke()
        return self._it.get_tensor(self._out_index)[0].astype(np.uint8)

    def predict_model_size(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Ids (h, w) uint8 and probabilities (C, h, w) float32 (None: no logits), 513 x 513."""
        ids = self._run(rgb)
        if self._logits_index is None:
            return ids, None
        q = self._it.get_tensor(self._logits_index)[0]
        if not self._checked:
            agree = float((q.argmax(-1) == ids).mean())
            if agree < 0.999:
                raise RuntimeError(f'{self.path.name}: tensor {self._logits_index} is not the '
                                   f'ArgMax input (argmax agrees on {agree:.1%} of pixels)')
            self._checked = True
        scale, zero = self._logits_q
        probs = softmax((q.astype(np.float32) - zero) * scale, axis=-1)
        return ids, np.ascontiguousarray(probs.transpose(2, 0, 1))

    def predict_ids(self, rgb: np.ndarray) -> np.ndarray:
        """Cityscapes train ids (uint8) at the input size (nearest resize)."""
        return resize_nearest(self._run(rgb), np.shape(rgb)[:2])

    def predict_probs(self, rgb: np.ndarray, at_input_size: bool = False) -> np.ndarray:
        """Softmax probabilities (C, h, w); 513 x 513, or bilinear to the input size."""
        if not self.has_logits:
            raise RuntimeError('built with with_logits=False: no probabilities')
        _, probs = self.predict_model_size(rgb)
        if at_input_size:
            probs = resize_linear(probs.transpose(1, 2, 0), np.shape(rgb)[:2]).transpose(2, 0, 1)
        return np.ascontiguousarray(probs)


class DeepLabTeacher:
    """``Teacher`` for the TFLite DeepLab: decides at 513 x 513, resizes to the frame."""

    name = 'deeplab'

    def __init__(self, weights: str | Path, num_threads: int | None = None,
                 confidence: str = 'prob'):
        if confidence not in CONFIDENCE_KINDS:
            raise ValueError(f'confidence {confidence!r}: one of {CONFIDENCE_KINDS}')
        self.model = DeepLabTFLite(weights, num_threads=num_threads, with_logits=True)
        self.confidence_kind = confidence

    def predict(self, rgb: np.ndarray) -> TeacherOutput:
        """Pseudo-label one uint8 RGB frame (H, W, 3)."""
        rgb = check_rgb(rgb)
        ids, probs = self.model.predict_model_size(rgb)
        return finish(probs, ids, rgb.shape[:2], self.confidence_kind)
