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
A hand-built ONNX graph with the exported model's contract, for tests.

visible uint8 (1,H,W,3) is scaled by 1/255 and moved channels-first inside
the graph, as in an export; fused = (visible + thermal) / 2 on every channel,
rounded to uint8 RGB (1,H,W,3) inside the graph too (``legacy=True``: the old
float (1,3,H,W) input and float (1,3,H,W) fused output); class_ids = 1 where
thermal > 0.5, else 0. Built with onnx.helper so runtime tests need no
torch and can assert exact values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, TensorProto
from ros2_ssvif.classes import FMB_CLASSES, FMB_PALETTE
from ros2_ssvif.model_runner import METADATA_KEY, ModelMetadata


def write_toy_model(path: Path, size_divisor: int = 8, input_hw: tuple[int, int] | None = None,
                    metadata: bool = True, legacy: bool = False, opset: int = 17,
                    ir_version: int = 8) -> Path:
    """Write the toy graph; ``legacy`` writes the old float NCHW visible input."""
    h, w = input_hw if input_hw else ('H', 'W')
    consts = [helper.make_tensor('half', TensorProto.FLOAT, [], [0.5]),
              helper.make_tensor('axes', TensorProto.INT64, [1], [1])]
    if legacy:
        vis = helper.make_tensor_value_info('visible', TensorProto.FLOAT, [1, 3, h, w])
        prep = [helper.make_node('Identity', ['visible'], ['vis01'])]
    else:  # the graph scales and transposes the uint8 RGB image itself
        vis = helper.make_tensor_value_info('visible', TensorProto.UINT8, [1, h, w, 3])
        consts.append(helper.make_tensor('inv255', TensorProto.FLOAT, [], [1.0 / 255.0]))
        prep = [helper.make_node('Cast', ['visible'], ['vis_f'], to=TensorProto.FLOAT),
                helper.make_node('Mul', ['vis_f', 'inv255'], ['vis_nhwc']),
                helper.make_node('Transpose', ['vis_nhwc'], ['vis01'], perm=[0, 3, 1, 2])]
    thr = helper.make_tensor_value_info('thermal', TensorProto.FLOAT, [1, 1, h, w])
    ids = helper.make_tensor_value_info('class_ids', TensorProto.UINT8, [1, h, w])
    if legacy:
        fused = helper.make_tensor_value_info('fused', TensorProto.FLOAT, [1, 3, h, w])
        post = [helper.make_node('Mul', ['sum', 'half'], ['fused'])]
    else:  # round to uint8 and lay out as (1,H,W,3) inside the graph, as an export does
        fused = helper.make_tensor_value_info('fused', TensorProto.UINT8, [1, h, w, 3])
        consts += [helper.make_tensor('c255', TensorProto.FLOAT, [], [255.0]),
                   helper.make_tensor('zero', TensorProto.FLOAT, [], [0.0]),
                   helper.make_tensor('one', TensorProto.FLOAT, [], [1.0])]
        post = [helper.make_node('Mul', ['sum', 'half'], ['mean01']),
                helper.make_node('Clip', ['mean01', 'zero', 'one'], ['clipped']),
                helper.make_node('Mul', ['clipped', 'c255'], ['scaled']),
                helper.make_node('Add', ['scaled', 'half'], ['rounded']),
                helper.make_node('Cast', ['rounded'], ['fused_nchw'], to=TensorProto.UINT8),
                helper.make_node('Transpose', ['fused_nchw'], ['fused'], perm=[0, 2, 3, 1])]
    nodes = prep + [
        helper.make_node('Add', ['vis01', 'thermal'], ['sum']),
        *post,
        helper.make_node('Greater', ['thermal', 'half'], ['hot']),
        helper.make_node('Cast', ['hot'], ['hot_u8'], to=TensorProto.UINT8),
        helper.make_node('Squeeze', ['hot_u8', 'axes'], ['class_ids']),
    ]
    graph = helper.make_graph(nodes, 'toy', [vis, thr], [fused, ids], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)])
    model.ir_version = ir_version
    if metadata:
        meta = ModelMetadata(
            list(FMB_CLASSES),
            list(FMB_PALETTE),
            input_hw[0] if input_hw else None,
            input_hw[1] if input_hw else None,
            size_divisor,
            {'fusion_backbone': 'toy'},
        )
        helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def expected_outputs(visible: np.ndarray, thermal01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fused = (visible.astype(np.float32) / 255.0 + thermal01[..., None]) * 0.5
    return (np.clip(fused, 0, 1) * 255.0 + 0.5).astype(np.uint8), (thermal01 > 0.5).astype(
        np.uint8
    )
