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
Export one ONNX graph for the vehicle: (visible, thermal) -> (fused, class_ids).

The fusion model and the segmenter are traced together so the node runs a
single ONNX Runtime session (one copy of the fused image, no Python between
the two networks). Class names, palette and the input convention travel
inside the file (``metadata_props``) where ros2_ssvif's model runner reads
them, so a model cannot be deployed with the wrong class list. The visible
image enters as the camera gives it, uint8 RGB (1,H,W,3); scaling and the
channels-first transpose are the graph's first nodes, so they run on the GPU
(the contract is ``ros2_ssvif.model_runner.CONTRACT``). After export the
graph is run with ONNX Runtime and compared with PyTorch; the largest
difference must stay within ``tolerance`` (1 grey level of the uint8 fused
image) or the export fails.

Which runtime can load it: by default opset 17 and the oldest IR version
that opset allows (8), which ONNX Runtime 1.16 (NVIDIA's JetPack 6 wheels)
and TensorRT 8.6 (JetPack 6.0) load; ORT 1.16 refuses the IR version 10 the
dynamo exporter writes ("max supported IR version: 9"). Opset 17 is written
by the TorchScript exporter because the dynamo exporter starts at opset 18
and cannot convert Pad back to 17. ``--opset 18`` or newer uses the dynamo
exporter, still with the oldest IR version the opset allows unless
``--ir-version`` says otherwise (opsets 18 and 19 still load in ORT 1.16;
newer ones need a newer runtime).

The command is :mod:`training.export.cli` (``ssvif_export``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
import warnings

import numpy as np
from ros2_ssvif.classes import CLASS_SETS
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.model_runner import INPUT_NAMES, METADATA_KEY, ModelMetadata, OUTPUT_NAMES
import torch
from torch import nn


__all__ = ['DEFAULT_OPSET', 'DeployGraph', 'ExportError', 'export_onnx']

DEFAULT_OPSET = 17
DYNAMO_MIN_OPSET = 18


def segmenter_channels(segmenter: nn.Module) -> int:
    """Input channels of a segmenter (3 unless its network says otherwise)."""
    net = getattr(segmenter, 'model', segmenter)
    return int(getattr(net, 'in_channels', 3))


class DeployGraph(nn.Module):
    """
    The deployed graph: (visible, thermal) -> (fused, ids).

    visible uint8 RGB (1,H,W,3), thermal (1,1,H,W) in [0,1] -> fused uint8 RGB (1,H,W,3), ids
    (1,H,W).
    """

    def __init__(self, fusion: nn.Module, segmenter: nn.Module):
        super().__init__()
        self.fusion = fusion
        self.segmenter = segmenter

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor):
        visible = visible.permute(0, 3, 1, 2).to(torch.float32) * (1.0 / 255.0)
        fused = self.fusion(visible, thermal).fused
        seen = fused
        if segmenter_channels(self.segmenter) == 4:  # the fused image and the thermal image
            seen = torch.cat([fused, thermal], dim=1)
        if hasattr(
            self.segmenter, 'class_ids'
        ):  # argmax at the segmenter's scale (ScaledSegmenter)
            class_ids = self.segmenter.class_ids(seen).to(torch.uint8)
        else:
            class_ids = self.segmenter(seen).argmax(1).to(torch.uint8)
        # round half up: x * 255 + 0.5 is >= 0.5, so the cast's truncation is the floor
        fused_u8 = (fused.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1)
        return fused_u8, class_ids


class ExportError(SsvifError, RuntimeError):
    pass


def _lowest_ir_version(model) -> int:
    import onnx

    return int(onnx.helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True))


def export_onnx(fusion: nn.Module, segmenter: nn.Module, path: str | Path, class_set: str = 'fmb',
                sample_hw: tuple[int, int] = (96, 128), fixed_hw: tuple[int, int] | None = None,
                size_divisor: int = 32, opset: int = DEFAULT_OPSET, tolerance: int = 1,
                extra: dict | None = None, ir_version: int | None = None) -> dict:
    """
    Write ``path`` and return a report with the ORT-vs-PyTorch difference.

    ``fixed_hw`` bakes one input size into the graph (needed by some
    TensorRT setups); otherwise height and width are dynamic and the
    runtime pads inputs to a multiple of ``size_divisor``. ``ir_version``
    None: the oldest the opset allows (module docstring).
    """
    import onnx
    import onnxruntime as ort

    names, palette = CLASS_SETS[class_set]
    n_classes = getattr(segmenter, 'num_classes', len(names))
    if n_classes != len(names):
        raise ExportError(f'segmenter predicts {n_classes} classes but class set {class_set!r} '
                          f'has {len(names)}')
    graph = DeployGraph(fusion, segmenter).eval()
    h, w = fixed_hw or sample_hw
    gen = torch.Generator().manual_seed(0)
    vis = torch.randint(0, 256, (1, h, w, 3), generator=gen, dtype=torch.uint8)
    thr = torch.rand(1, 1, h, w, generator=gen)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dyn = None if fixed_hw else {'visible': {1: 'H', 2: 'W'}, 'thermal': {2: 'H', 3: 'W'},
                                 'fused': {1: 'H', 2: 'W'}, 'class_ids': {1: 'H', 2: 'W'}}
    dynamo = opset >= DYNAMO_MIN_OPSET
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        kwargs = {'external_data': False} if dynamo else {}
        torch.onnx.export(graph, (vis, thr), str(path), input_names=list(INPUT_NAMES),
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dyn, opset_version=opset,
                          dynamo=dynamo, **kwargs)
    model = onnx.load(str(path))
    written = {o.domain: o.version for o in model.opset_import}.get('', 0)
    if written != opset:
        raise ExportError(f'the exporter wrote opset {written}, not the requested {opset}')
    model.ir_version = ir_version if ir_version is not None else _lowest_ir_version(model)
    created = datetime.now(timezone.utc).isoformat(timespec='seconds')
    meta = ModelMetadata(list(names), [tuple(c) for c in palette],
                         fixed_hw[0] if fixed_hw else None, fixed_hw[1] if fixed_hw else None,
                         size_divisor, {'created': created, **(extra or {})})
    onnx.helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f'the graph is not valid at IR version {model.ir_version}: '
                          f'{str(exc).splitlines()[0]}') from None
    onnx.save(model, str(path))
    from ros2_ssvif.labels import write_labels_file

    write_labels_file(
        path, names, palette
    )  # <model>.labels.yaml: class names for tools without the model
    # check at the sample size and, for dynamic graphs, at a second size
    sizes = [(h, w)] if fixed_hw else [(h, w), (h + size_divisor, w + 2 * size_divisor)]
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    worst, agree = 0.0, 1.0
    for hh, ww in sizes:
        v = torch.randint(0, 256, (1, hh, ww, 3), generator=gen, dtype=torch.uint8)
        t = torch.rand(1, 1, hh, ww, generator=gen)
        with torch.no_grad():
            ref_fused, ref_ids = graph(v, t)
        fused, ids = sess.run(list(OUTPUT_NAMES), {'visible': v.numpy(), 'thermal': t.numpy()})
        worst = max(
            worst, float(np.abs(fused.astype(np.int16) - ref_fused.numpy().astype(np.int16)).max())
        )
        agree = min(agree, float((ids == ref_ids.numpy()).mean()))
    report = {'path': str(path), 'max_abs_diff_fused': worst, 'class_id_agreement': agree,
              'sizes_checked': sizes, 'classes': len(names), 'dynamic': fixed_hw is None,
              'opset': opset, 'ir_version': int(model.ir_version)}
    if worst > tolerance:
        raise ExportError(
            f'ONNX Runtime differs from PyTorch by {worst:.0f} grey levels (> {tolerance}) '
            'on the fused image'
        )
    return report
