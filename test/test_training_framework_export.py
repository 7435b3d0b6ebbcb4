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

"""The new networks export like the others: one ONNX graph, dynamic size, ORT equals PyTorch."""
from __future__ import annotations

import pytest
import torch
from training.config import load_config
from training.export import export_onnx
from training.models import fusion_model_from_config
from training.models.compact_segmenter import CompactSegmenter


NETS = {
    'emma': ['model.backbone=emma', 'model.backbone_kwargs={widths: [4, 4, 8, 8], heads: 2}'],
    'segmif_1ch': ['model.backbone=segmif', 'model.in_channels=1',
                   'model.backbone_kwargs={width: 8, growth: 4, layers: 2, heads: 2}'],
    'multitaskvif_mth': ['model.backbone=seafusion', 'model.decoder=mth',
                         'model.backbone_kwargs={widths: [4, 8, 8]}',
                         'model.decoder_kwargs={width: 8, heads: 2}'],
}


@pytest.mark.parametrize('name', sorted(NETS))
def test_new_networks_export_with_dynamic_size(tmp_path, name):
    torch.manual_seed(0)
    fusion = fusion_model_from_config(load_config(None, NETS[name]).model).eval()
    report = export_onnx(fusion, CompactSegmenter(15).eval(), tmp_path / f'{name}.onnx',
                         sample_hw=(48, 64), size_divisor=16)
    assert report['dynamic'] and report['sizes_checked'] == [(48, 64), (64, 96)]
    assert report['max_abs_diff_fused'] <= 1  # grey levels (uint8 output)
