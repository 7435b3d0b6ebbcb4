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
Visible/thermal pair datasets on disk (FMB, MSRS, plain pair folders, simulator output).

SSVIF is self-supervised: :class:`FusionPairs` is built from (name, visible,
thermal) triples only, so it has no way to open a label file even when the
dataset ships labels. :class:`LabelledPairs` is the separate variant for the
segmenter training, which does need labels.

Reading conventions (so training sees what the ROS node sees):

* visible: 8- or 16-bit, grey (repeated to 3 channels), BGR(A) -> RGB,
  scaled to [0, 1] by the dtype's maximum;
* thermal: read unchanged (8-bit jpg or 16-bit counts) and mapped to [0, 1]
  by ``ros2_ssvif.thermal.ThermalNormalizer``, the node's own class, for
  stills (8-bit as given, raw 16-bit by its per-image percentile window);
* labels: 8-bit class ids -> int64, 255 = ignore.

Pairs are matched by file stem; any stem present in one folder only is an
error listing them, since an unmatched frame usually means a broken copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.image_files import IMAGE_SUFFIXES, ImageFileError, ImageFolderError, images_by_stem
from ros2_ssvif.image_files import read_image_file
from ros2_ssvif.thermal import ThermalNormalizer
import torch
from torch.utils.data import Dataset


__all__ = [
    'IMAGE_EXTS',
    'LAYOUTS',
    'DatasetError',
    'Pair',
    'layout_dirs',
    'match_pairs',
    'find_pairs',
    'split_pairs',
    'read_visible',
    'read_thermal',
    'read_label',
    'FusionPairs',
    'LabelledPairs',
]

IMAGE_EXTS = IMAGE_SUFFIXES

#: kind -> (visible dir, thermal dir, label dir), relative to root (fmb/msrs: to root/split).
LAYOUTS: dict[str, tuple[str, str, str | None]] = {
    'fmb': ('Visible', 'Infrared', 'Label'),
    'msrs': ('vi', 'ir', 'Segmentation_labels'),
    'pairs': ('vi', 'ir', None),
    'synthetic_folder': ('visible', 'thermal', 'labels'),
}


class DatasetError(SsvifError, ValueError):
    """
    The dataset on disk does not have the expected layout or content.

    A DataLoader worker's error reaches the main process re-raised with the
    worker's whole traceback as its message ("Caught DatasetError in
    DataLoader worker process 1. Original Traceback ..."); only the original
    reason and the worker are kept, so the CLI prints one readable line.
    """

    def __init__(self, message='', *args):
        text = str(message)
        if text.startswith('Caught ') and 'Original Traceback' in text:
            where = text.split('\n', 1)[0].rstrip('.').split(' ', 2)[-1]
            last = [ln for ln in text.strip().splitlines() if ln.strip()][-1]
            text = f"{last.split(': ', 1)[-1]} ({where})"
        super().__init__(text, *args)


@dataclass(frozen=True)
class Pair:
    """One registered frame: its stem and the two image paths (no label, on purpose)."""

    name: str
    visible: Path
    thermal: Path


def layout_dirs(
    kind: str, root: str | Path, split: str = 'train'
) -> tuple[Path, Path, Path | None]:
    """Folders of ``kind`` under ``root``; fmb/msrs add the ``split`` level."""
    if kind not in LAYOUTS:
        raise DatasetError(f'unknown dataset kind {kind!r}; choose from {sorted(LAYOUTS)}')
    if root is None:
        raise DatasetError('no dataset root given (data.root or --data-root)')
    base = Path(root) / split if kind in ('fmb', 'msrs') else Path(root)
    vis, ir, lab = LAYOUTS[kind]
    return base / vis, base / ir, (base / lab if lab else None)


def _images(folder: Path) -> dict[str, Path]:
    try:
        return images_by_stem(folder)
    except ImageFolderError as exc:
        raise DatasetError(str(exc)) from None


def match_pairs(*folders: Path) -> list[tuple[str, list[Path]]]:
    """[(stem, [path per folder])] sorted by stem; stems missing anywhere -> DatasetError."""
    listings = [_images(Path(f)) for f in folders]
    stems = set().union(*listings)
    problems = []
    for folder, listing in zip(folders, listings):
        missing = sorted(stems - set(listing))
        if missing:
            shown = ', '.join(missing[:10]) + (
                f' ... (+{len(missing) - 10})' if len(missing) > 10 else ''
            )
            problems.append(f'{len(missing)} stem(s) missing in {folder}: {shown}')
    if problems:
        raise DatasetError('unmatched pairs: ' + '; '.join(problems))
    return [(s, [lst[s] for lst in listings]) for s in sorted(stems)]


def find_pairs(kind: str, root: str | Path, split: str = 'train') -> list[Pair]:
    """Visible/thermal pairs of a dataset; never lists the label folder."""
    vis, ir, _ = layout_dirs(kind, root, split)
    return [Pair(name, v, t) for name, (v, t) in match_pairs(vis, ir)]


def split_pairs(items: Sequence, val_fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """
    Deterministic train/val split (paper: 9:1): a seeded permutation of the sorted items.

    ``round(n * val_fraction)`` items (at least 1 when ``val_fraction`` > 0 and
    n >= 2) go to validation; both parts keep the input order.
    """
    n = len(items)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n >= 2:
        n_val = max(1, n_val)
    n_val = min(n_val, max(n - 1, 0))
    perm = np.random.default_rng(int(seed)).permutation(n)
    val_idx = set(perm[:n_val].tolist())
    train = [items[i] for i in range(n) if i not in val_idx]
    val = [items[i] for i in range(n) if i in val_idx]
    return train, val


def _imread(path: Path) -> np.ndarray:
    try:
        return read_image_file(path)
    except ImageFileError as exc:
        raise DatasetError(str(exc)) from None


def _scale(img: np.ndarray, path: Path) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    if img.dtype in (np.float32, np.float64):
        return np.clip(img.astype(np.float32), 0.0, 1.0)
    raise DatasetError(f'{path}: unsupported pixel type {img.dtype}')


def read_visible(path: Path) -> torch.Tensor:
    """(3, H, W) float32 RGB in [0, 1]; grey images are repeated to 3 channels."""
    img = _imread(path)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise DatasetError(f'{path}: visible image has {img.shape[2]} channels')
    return torch.from_numpy(np.ascontiguousarray(_scale(img, path).transpose(2, 0, 1)))


def read_thermal(path: Path, normalizer: ThermalNormalizer) -> torch.Tensor:
    """(1, H, W) float32 in [0, 1] through the runtime ThermalNormalizer (8- or 16-bit)."""
    img = _imread(path)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    out = normalizer(img)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))[None]


def read_label(path: Path) -> torch.Tensor:
    """(H, W) int64 class ids from an 8-bit single-channel PNG (255 = ignore)."""
    img = _imread(path)
    if img.ndim == 3:  # some exports store ids replicated in 3 channels
        if not (
            np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])
        ):
            raise DatasetError(f'{path}: label must hold class ids, not colours')
        img = img[..., 0]
    if img.dtype != np.uint8:
        raise DatasetError(f'{path}: label must be 8-bit class ids, got {img.dtype}')
    return torch.from_numpy(img.astype(np.int64))


class FusionPairs(Dataset):
    """
    Unlabelled pairs -> dict(visible (3,H,W), thermal (1,H,W), name) for SSVIF.

    Built from :class:`Pair` objects, which carry no label path: SSVIF
    training cannot read labels through this class by construction.
    """

    def __init__(self, pairs: Sequence[Pair], transform: Callable[[dict], dict] | None = None,
                 normalizer: ThermalNormalizer | None = None):
        for p in pairs:
            if not isinstance(p, Pair):
                raise TypeError('FusionPairs takes Pair(name, visible, thermal) items only')
        self.pairs = list(pairs)
        self.transform = transform
        self.normalizer = normalizer or ThermalNormalizer(video=False)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> dict:
        p = self.pairs[i]
        vis = read_visible(p.visible)
        th = read_thermal(p.thermal, self.normalizer)
        if vis.shape[-2:] != th.shape[-2:]:
            raise DatasetError(f'pair {p.name!r}: visible {tuple(vis.shape[-2:])} and thermal '
                               f'{tuple(th.shape[-2:])} differ in size (register them first)')
        return {'visible': vis, 'thermal': th, 'name': p.name}

    def __getitem__(self, i: int) -> dict:
        sample = self.load(i)
        return self.transform(sample) if self.transform else sample


class LabelledPairs(Dataset):
    """
    Pairs with labels -> dict(visible, thermal, label (H,W) int64, name) (segmenter training).

    ``LabelledPairs.from_layout(kind, root, split)`` for fmb / msrs /
    synthetic_folder; ``pairs`` layouts have no labels and are refused.
    """

    def __init__(self, items: Sequence[tuple[str, Path, Path, Path]],
                 transform: Callable[[dict], dict] | None = None,
                 normalizer: ThermalNormalizer | None = None):
        self.items = [(str(n), Path(v), Path(t), Path(l)) for n, v, t, l in items]
        self.transform = transform
        self.normalizer = normalizer or ThermalNormalizer(video=False)

    @classmethod
    def from_layout(
        cls, kind: str, root: str | Path, split: str = 'train', **kw
    ) -> 'LabelledPairs':
        vis, ir, lab = layout_dirs(kind, root, split)
        if lab is None:
            raise DatasetError(f'dataset kind {kind!r} has no labels')
        return cls([(n, v, t, l) for n, (v, t, l) in match_pairs(vis, ir, lab)], **kw)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        name, v, t, lab = self.items[i]
        sample = {'visible': read_visible(v), 'thermal': read_thermal(t, self.normalizer),
                  'label': read_label(lab), 'name': name}
        shapes = {k: tuple(sample[k].shape[-2:]) for k in ('visible', 'thermal', 'label')}
        if len(set(shapes.values())) != 1:
            raise DatasetError(f'pair {name!r}: sizes differ {shapes}')
        return self.transform(sample) if self.transform else sample
