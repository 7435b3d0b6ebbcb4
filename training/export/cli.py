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

``ssvif_export``, from a fusion and a segmenter checkpoint::

    ssvif_export --fusion CKPT --segmenter SEG.pt --output MODEL.onnx [--fixed-size WxH] \
        [--opset N] [--ir-version N] [--class-bias NAME=OFFSET ...] [--[no-]flip-average]

``--class-bias`` and ``--flip-average`` set how the mask is decided (logit
offsets before the argmax; the mean of the image's and its mirror's logits:
``training.segmenter.SegmenterConfig``) over what the segmenter checkpoint
holds; the graph's metadata records what was used.
The engine is :func:`training.export.onnx.export_onnx` (what the graph
holds and which runtimes load it). A segmenter trained on the images of
another fusion network is exported with a warning. Errors print one line,
exit 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from ros2_ssvif.cli import parse_size, run_command
from training.export.onnx import DEFAULT_OPSET, export_onnx, ExportError


__all__ = ['main']


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='ssvif_export', description=__doc__.strip().splitlines()[0])
    ap.add_argument('--fusion', required=True, help='fusion checkpoint written by ssvif_train')
    ap.add_argument('--segmenter', required=True,
                    help='segmenter checkpoint written by ssvif_train_segmenter')
    ap.add_argument('--output', required=True, help='the .onnx file to write')
    ap.add_argument('--fixed-size', metavar='WxH', help='bake this input size into the graph')
    ap.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                    help='ONNX opset (default 17: ONNX Runtime >= 1.16 and TensorRT 8.6 load '
                         'it; 18 or newer: the dynamo exporter; ORT 1.16 loads up to 19)')
    ap.add_argument('--ir-version', type=int, default=None,
                    help='ONNX IR version (default: the oldest the opset allows, 8 for opset '
                         '17 and 18; ONNX Runtime 1.16 loads up to 9)')
    ap.add_argument('--class-bias', nargs='+', metavar='NAME=OFFSET', default=[],
                    help='logit offset of a class before the argmax (person=0.5 paints more '
                         "person); replaces the checkpoint's offset for that class")
    ap.add_argument('--flip-average', action=argparse.BooleanOptionalAction, default=None,
                    help="decide the mask on the mean of the image's and its mirror's logits "
                         "(one more segmenter pass; default: the checkpoint's setting)")
    args = ap.parse_args(argv)
    return run_command('ssvif_export', lambda: _export(args), errors=(KeyError, RuntimeError),
                       plain=True)


def _export(args) -> int:
    from training.checkpoint import load_checkpoint, load_fusion_model, model_fingerprint
    from training.segmenter import load_segmenter
    from training.segmenter.model import set_decision

    if Path(args.output).is_dir():
        raise ExportError(f'--output {args.output} is a folder: give the .onnx file to write')
    fixed = None
    if args.fixed_size:
        w, h = parse_size(args.fixed_size, '--fixed-size')
        fixed = (h, w)
    fusion, spec = load_fusion_model(args.fusion)
    seg, seg_cfg = load_segmenter(args.segmenter)
    set_decision(seg, seg_cfg, parse_class_bias(args.class_bias), args.flip_average)
    trained_on = load_checkpoint(args.segmenter).get('fusion_fingerprint')
    if trained_on and trained_on != model_fingerprint(fusion):
        print(f'ssvif_export: warning: the segmenter was trained on the images of another '
              f'fusion network ({trained_on}, this one {model_fingerprint(fusion)}); its '
              'masks may be worse: retrain it with ssvif_train_segmenter --fusion '
              f'{args.fusion}', file=sys.stderr)
    report = export_onnx(fusion, seg, args.output, seg_cfg.class_set, fixed_hw=fixed,
                         opset=args.opset, ir_version=args.ir_version,
                         extra={'fusion_backbone': spec.get('backbone'),
                                'fusion_in_channels': spec.get('in_channels'),
                                'fusion_output': spec.get('output'),
                                'segmenter': seg_cfg.variant,
                                'segmenter_scale': seg_cfg.scale,
                                'class_bias': dict(seg_cfg.class_bias or {}),
                                'flip_average': bool(seg_cfg.flip_average)})
    print(
        f'ssvif_export: wrote {report["path"]} (opset {report["opset"]}, IR version '
        f'{report["ir_version"]}; ONNX Runtime vs PyTorch: max |diff| '
        f'{report["max_abs_diff_fused"]:.0f} grey level(s) on the fused image, class ids agree on '
        f'{100 * report["class_id_agreement"]:.2f} % of pixels)'
    )
    return 0


def parse_class_bias(items: list[str]) -> dict[str, float]:
    """Parse ``['person=0.5']`` into {'person': 0.5}; a malformed item raises ExportError."""
    out = {}
    for item in items:
        name, sep, value = item.partition('=')
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ''
        if not sep or not name.strip():
            raise ExportError(f'--class-bias {item!r}: expected NAME=OFFSET, e.g. person=0.5')
    return out


if __name__ == '__main__':
    sys.exit(main())
