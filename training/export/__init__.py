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
The export wing: one ONNX graph for the vehicle, and its command.

* :mod:`training.export.onnx`: the graph (fusion network and segmenter
  traced together, class names and the input convention in its metadata)
  and :func:`~training.export.onnx.export_onnx`, which checks it against
  PyTorch;
* :mod:`training.export.cli`: ``ssvif_export``.

The names below stay importable from ``training.export`` (scripts call
``training.export.main``); this package sits with the commands, on
training's top floor, and nothing in training imports it.
"""
from __future__ import annotations

from training.export.cli import main
from training.export.onnx import DEFAULT_OPSET, DeployGraph, export_onnx, ExportError


__all__ = ['DEFAULT_OPSET', 'DeployGraph', 'ExportError', 'export_onnx', 'main']
