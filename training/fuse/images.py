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
Fuse visible/thermal pairs with an ``ssvif_train`` checkpoint, as the deployed graph would.

Pairs are matched by file stem (``training.data.pairs.match_pairs``, an
unmatched stem is an error) and read exactly as training reads them:
visible as RGB, thermal through the ``ThermalNormalizer`` settings stored
in the checkpoint's config. Images are fused at full resolution, padded the
way the runtime pads them. Used by ``ssvif_fuse`` (:mod:`training.fuse.cli`)
and ``compare_fusion``; torch is imported only when a checkpoint is used.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from ros2_ssvif.thermal import ThermalNormalizer

if TYPE_CHECKING:  # annotations only: torch is imported lazily, for --checkpoint alone
    import torch


__all__ = [
    'PAD_MULTIPLE',
    'fuse_folder',
    'fuse_tensors',
    'load_for_fusion',
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
