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
``ssvif_fuse``: fuse every visible/thermal pair of two folders with a checkpoint or exported model.

    ssvif_fuse --checkpoint CKPT --visible DIR --thermal DIR --output DIR [--device cpu]
    ssvif_fuse --model MODEL.onnx --visible DIR --thermal DIR --output DIR [--masks DIR]

(``--ir`` is accepted for ``--thermal``.)

``--model`` runs an exported bundle through the torch-free runtime
(``ros2_ssvif.fuse_images``: the node's own pre- and post-processing, so
the images equal what ``fusion_node`` publishes); torch is imported only
for ``--checkpoint``, so the command works on a runtime-only install.

Pairs are matched by file stem (``training.data.pairs.match_pairs``, an
unmatched stem is an error) and read exactly as training reads them:
visible as RGB, thermal through the ``ThermalNormalizer`` settings stored
in the checkpoint's config. Images are fused at full resolution and written
as ``OUTPUT/STEM.png`` (8-bit RGB). Bad input prints one line, exit 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from ros2_ssvif.cli import add_thermal_argument, run_command
from ros2_ssvif.errors import ConfigError
from training.fuse.images import fuse_folder, load_for_fusion


__all__ = ['main']


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='ssvif_fuse', description=__doc__.strip().splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        '--checkpoint', help='ssvif_train checkpoint (best.pt / last.pt); needs torch'
    )
    src.add_argument(
        '--model', help='exported bundle (.onnx, `ssvif_export`); runs on ONNX Runtime, no torch'
    )
    p.add_argument('--visible', required=True, help='folder of visible images')
    add_thermal_argument(p, required=True, help='folder of thermal images (same stems)')
    p.add_argument('--output', required=True, help='folder for the fused STEM.png files')
    p.add_argument(
        '--masks',
        default=None,
        help='with --model: also write class-id masks (mono8 STEM.png) here',
    )
    p.add_argument('--device', default='cpu', help='--checkpoint: torch device (default cpu)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def _main_onnx(args) -> int:
    from ros2_ssvif.fuse_images import fuse_folders

    res = fuse_folders(args.model, args.visible, args.thermal, args.output, masks_dir=args.masks,
                       progress=not args.no_progress)
    extra = f' and {len(res.masks)} mask(s) to {args.masks}' if args.masks else ''
    print(f'ssvif_fuse: {len(res.fused)} fused image(s) written to {args.output}{extra}')
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command('ssvif_fuse', lambda: _fuse(args), errors=(RuntimeError,))


def _fuse(args) -> int:
    for flag, folder in (('--output', args.output), ('--masks', args.masks)):
        if folder is not None and Path(folder).is_file():
            raise ConfigError(f'{flag} {folder} is a file, not a folder')
    for flag, value in (('--model', args.model), ('--checkpoint', args.checkpoint)):
        if value is not None and not value.strip():
            raise ConfigError(f'{flag} is empty: give a file path')
    if args.model is not None:  # also --model '' (an empty path: one-line error, not a checkpoint)
        return _main_onnx(args)
    if args.masks:
        raise ConfigError('--masks needs --model (a checkpoint has no segmenter)')
    import torch

    model, normalizer = load_for_fusion(args.checkpoint)
    model.to(torch.device(args.device))
    written = fuse_folder(
        model,
        args.visible,
        args.thermal,
        args.output,
        progress=not args.no_progress,
        normalizer=normalizer,
    )
    print(f'ssvif_fuse: {len(written)} fused image(s) written to {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
