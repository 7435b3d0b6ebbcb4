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
from typing import TYPE_CHECKING

import cv2
import numpy as np
from ros2_ssvif.cli import add_thermal_argument, run_command
from ros2_ssvif.errors import ConfigError
from ros2_ssvif.thermal import ThermalNormalizer

if TYPE_CHECKING:  # annotations only: torch is imported lazily, for --checkpoint alone
    import torch


__all__ = [
    'PAD_MULTIPLE',
    'fuse_folder',
    'fuse_tensors',
    'load_for_fusion',
    'main',
    'to_uint8_rgb',
]

#: Inputs are padded to a multiple of this the way the deployed runtime pads them
#: (mirrored bottom and right, :func:`ros2_ssvif.model_runner.pad_bottom_right`, to its
#: default size divisor), so a checkpoint fuses the same image as its export; it also
#: covers the stride-2 stages of every registered backbone.
PAD_MULTIPLE = 32


def load_for_fusion(checkpoint: str | Path) -> tuple['torch.nn.Module', ThermalNormalizer]:
    """Fusion model (eval) and the thermal normaliser it was trained with."""
    from training.checkpoint import CheckpointError, load_checkpoint, load_fusion_model

    model, _ = load_fusion_model(checkpoint)
    thermal = load_checkpoint(checkpoint).get('config', {}).get('data', {}).get('thermal') or {}
    try:
        normalizer = ThermalNormalizer(**thermal).for_stills()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f'{checkpoint}: bad thermal settings {thermal}: {exc}') from None
    return model, normalizer


def fuse_tensors(model: 'torch.nn.Module', visible: 'torch.Tensor', thermal: 'torch.Tensor',
                 multiple: int = PAD_MULTIPLE) -> 'torch.Tensor':
    """(3, H, W) visible + (1, H, W) thermal in [0, 1] -> (3, H, W) fused in [0, 1]."""
    import torch

    if visible.shape[-2:] != thermal.shape[-2:]:
        raise ValueError(
            f'visible {tuple(visible.shape[-2:])} and thermal {tuple(thermal.shape[-2:])} '
            'sizes differ'
        )
    from ros2_ssvif.model_runner import pad_bottom_right

    device = next(model.parameters()).device
    h, w = visible.shape[-2:]
    hh, ww = h + (-h) % multiple, w + (-w) % multiple

    def padded(x: 'torch.Tensor') -> 'torch.Tensor':
        arr = pad_bottom_right(x.detach().cpu().numpy().transpose(1, 2, 0), hh, ww)
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].to(device)

    vis, th = padded(visible), padded(thermal)
    with torch.no_grad():
        return model(vis, th).fused[0, :, :h, :w].clamp(0.0, 1.0).cpu()


def to_uint8_rgb(image: 'torch.Tensor') -> np.ndarray:
    """(3, H, W) in [0, 1] -> H x W x 3 uint8, rounded (not truncated)."""
    return np.ascontiguousarray(
        (image.permute(1, 2, 0).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    )


def fuse_folder(
    model: 'torch.nn.Module',
    visible_dir: str | Path,
    ir_dir: str | Path,
    out_dir: str | Path,
    progress: bool = True,
    normalizer: ThermalNormalizer | None = None,
) -> list[Path]:
    """Fuse every stem-matched pair; returns the written ``out_dir/STEM.png`` paths."""
    from tqdm import tqdm
    from training.data.pairs import DatasetError, match_pairs, read_thermal, read_visible

    pairs = match_pairs(Path(visible_dir), Path(ir_dir))
    normalizer = normalizer or ThermalNormalizer(video=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    written = []
    for stem, (vis_p, ir_p) in tqdm(pairs, desc='ssvif_fuse', unit='img', disable=not progress):
        vis, th = read_visible(vis_p), read_thermal(ir_p, normalizer)
        if vis.shape[-2:] != th.shape[-2:]:
            raise DatasetError(f'{stem}: visible {vis_p.name} is {vis.shape[2]}x{vis.shape[1]}, '
                               f'thermal {ir_p.name} is {th.shape[2]}x{th.shape[1]}')
        rgb = to_uint8_rgb(fuse_tensors(model, vis, th))
        path = out_dir / f'{stem}.png'
        if not cv2.imwrite(str(path), rgb[..., ::-1]):
            raise OSError(f'cannot write {path}')
        written.append(path)
    return written


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
