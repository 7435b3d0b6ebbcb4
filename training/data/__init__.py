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
Datasets for SSVIF training (unlabelled) and the segmenter (labelled).

``build_datasets(data_cfg)`` turns a ``training.config.DataConfig`` into
(train, val) :class:`FusionPairs`: a deterministic 9:1 split of the training
pairs, random crops for training and, for validation, centre crops of
``val_crop`` (default: the training crop) or full images (``val_mode:
full``, batch 1 because sizes vary). Centre crops are the default: they
stack into batches and show the same pixels every epoch, so the validation
fusion loss (the early-stopping metric) is comparable across epochs.
"""
from __future__ import annotations

from ros2_ssvif.thermal import ThermalNormalizer
from training.data.pairs import (
    DatasetError,
    find_pairs,
    FusionPairs,
    LabelledPairs,
    layout_dirs,
    match_pairs,
    Pair,
    read_label,
    read_thermal,
    read_visible,
    split_pairs,
)
from training.data.transforms import (augmentations, CenterPairCrop, NoCrop, PairCompose,
                                      RandomPairCrop)


__all__ = [
    'DatasetError',
    'FusionPairs',
    'LabelledPairs',
    'Pair',
    'build_datasets',
    'configured_pairs',
    'find_pairs',
    'layout_dirs',
    'match_pairs',
    'read_label',
    'read_thermal',
    'read_visible',
    'select_listed',
    'source_pairs',
    'split_pairs',
    'train_transform',
    'validation_transform',
    'CenterPairCrop',
    'NoCrop',
    'RandomPairCrop',
]


def select_listed(pairs: list[Pair], root, list_file) -> list[Pair]:
    """
    Return the pairs named in ``list_file`` (one file name or stem per line; relative to ``root``).

    Keeps a published test split out of training (e.g. RoadScene's
    ``train_split.txt``); a listed name with no pair is an error, not a
    silently smaller training set.
    """
    from pathlib import Path

    path = Path(list_file)
    if not path.is_absolute() and root is not None and not path.is_file():
        path = Path(root) / path
    try:
        wanted = [
            Path(line.strip()).stem for line in path.read_text().splitlines() if line.strip()
        ]
    except OSError as exc:
        raise DatasetError(f'data.list_file: cannot read {path}: {exc.strerror or exc}') from None
    by_name = {p.name: p for p in pairs}
    missing = [w for w in wanted if w not in by_name]
    if missing:
        raise DatasetError(
            f'data.list_file {path}: {len(missing)} listed pair(s) not in the dataset, '
            f'e.g. {", ".join(missing[:5])}'
        )
    return [by_name[w] for w in sorted(set(wanted))]


def source_pairs(kind: str, root, split: str = 'train', list_file=None) -> list[Pair]:
    """Return the pairs of one data source, restricted to ``list_file`` if given."""
    pairs = find_pairs(kind, root, split)
    return select_listed(pairs, root, list_file) if list_file else pairs


def validation_transform(data_cfg):
    """Whole images (``val_mode: full``) or a centre crop of ``val_crop`` (default: ``crop``)."""
    if data_cfg.val_mode == 'full':
        return NoCrop()
    return CenterPairCrop(data_cfg.val_crop or data_cfg.crop)


def train_transform(data_cfg):
    """
    Return the random ``crop`` of training, after the ``data.augment`` augmentations if any.

    Without augmentations it is the crop alone (the same random draws as before they existed).
    """
    crop = RandomPairCrop(data_cfg.crop)
    try:
        steps = augmentations(getattr(data_cfg, 'augment', None))
    except (TypeError, ValueError) as e:
        raise DatasetError(f'data.augment: {e}') from None
    return PairCompose([*steps, crop]) if steps else crop


def configured_pairs(data_cfg) -> list[Pair]:
    """
    Return the pairs a DataConfig names, in training order.

    ``data.root`` (its ``list_file``), then each of ``data.extra_sources``,
    cut to ``data.max_samples``: the list both ``build_datasets`` and the
    labelled variants split, so they split it alike.
    """
    pairs = source_pairs(data_cfg.kind, data_cfg.root, data_cfg.split, data_cfg.list_file)
    for src in data_cfg.extra_sources or ():
        pairs += source_pairs(src.get('kind', 'pairs'), src['root'], src.get('split', 'train'),
                              src.get('list_file'))
    if data_cfg.max_samples:
        pairs = pairs[: int(data_cfg.max_samples)]
    return pairs


def build_datasets(data_cfg) -> tuple[FusionPairs, FusionPairs]:
    """(train, val) FusionPairs from a DataConfig (see module docstring)."""
    try:
        normalizer = ThermalNormalizer(**(data_cfg.thermal or {})).for_stills()
    except TypeError as e:
        raise DatasetError(f'data.thermal: {e}') from None
    pairs = configured_pairs(data_cfg)
    train, val = split_pairs(pairs, data_cfg.val_fraction, data_cfg.seed)
    if not train:
        raise DatasetError(f'no training pairs under {data_cfg.root}')
    val_tf = validation_transform(data_cfg)
    return (FusionPairs(train, train_transform(data_cfg), normalizer),
            FusionPairs(val, val_tf, normalizer))
