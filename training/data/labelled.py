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
Labelled (train, val) datasets and the batch collation of visible/thermal pairs.

* :func:`build_labelled_datasets`, for the supervised frameworks
  (MultiTaskVIF, SegMiF, SeAFusion): the same split and crops as
  ``training.data.build_datasets`` (9:1 by ``data.seed``, random crops for
  training after the ``data.augment`` augmentations, centre crops or full
  images for validation), but from
  :class:`training.data.LabelledPairs`, so every sample carries its
  ``label``; crops pad labels with the ignore id 255. Only the labelled
  layouts (fmb, msrs, synthetic_folder) qualify; ``data.list_file`` is
  refused here rather than silently ignored.
* :func:`build_search_datasets`, for CAF's loss search: training and
  search-validation pairs (``data.val_fraction``), both randomly cropped,
  ``data.list_file`` honoured.
* :func:`build_pseudo_labelled_datasets`, for the supervised frameworks
  on real pairs that have no pixel labels: the pairs a DataConfig names
  (``data.root`` with its ``list_file``, ``data.extra_sources``; the same
  list and split as ``build_datasets``) with the label images
  ``ssvif_make_labels`` wrote (``LABEL_DIR/NAME.png``). Their *set labels*
  (240-247, "one of these classes", ``training.labels``) become the ignore
  id (:class:`IgnoreSetLabels`): the frameworks' losses are plain
  cross-entropy (+ Dice) over class ids, which cannot read a set of
  classes, so those pixels teach them nothing rather than a wrong class.
* :class:`PairCollate`: stacks a batch, with labels only for the loops
  that train on them (SSVIF refuses them).

Why here: they were in the frameworks' plugin folder and in CAF's build
module; data helpers belong with the data, below every loop.
"""
from __future__ import annotations

from ros2_ssvif.thermal import ThermalNormalizer
import torch
from torch.utils.data import Dataset
from training.data import (
    configured_pairs,
    DatasetError,
    LabelledPairs,
    Pair,
    RandomPairCrop,
    select_listed,
    split_pairs,
    train_transform,
    validation_transform,
)
from training.data.transforms import IGNORE_INDEX, PairCompose
from training.labels import GROUP_BITS, SET_BASE


__all__ = ['IgnoreSetLabels', 'PairCollate', 'build_labelled_datasets',
           'build_pseudo_labelled_datasets', 'build_search_datasets']


def build_labelled_datasets(data_cfg) -> tuple[Dataset, Dataset]:
    if data_cfg.kind not in ('fmb', 'msrs', 'synthetic_folder'):
        raise DatasetError(
            f'data.kind {data_cfg.kind!r} has no labels; a supervised framework needs '
            'fmb, msrs or synthetic_folder'
        )
    if data_cfg.list_file:
        raise DatasetError('data.list_file is not supported for labelled training')
    try:
        normalizer = ThermalNormalizer(**(data_cfg.thermal or {})).for_stills()
    except TypeError as e:
        raise DatasetError(f'data.thermal: {e}') from None
    items = LabelledPairs.from_layout(data_cfg.kind, data_cfg.root, data_cfg.split).items
    if data_cfg.max_samples:
        items = items[: int(data_cfg.max_samples)]
    train, val = split_pairs(items, data_cfg.val_fraction, data_cfg.seed)
    if not train:
        raise DatasetError(f'no labelled training pairs under {data_cfg.root}')
    return (LabelledPairs(train, transform=train_transform(data_cfg), normalizer=normalizer),
            LabelledPairs(val, transform=validation_transform(data_cfg), normalizer=normalizer))


def build_search_datasets(data_cfg) -> tuple[LabelledPairs, LabelledPairs]:
    """(train, search-val) LabelledPairs with random crops, split by ``data.val_fraction``."""
    d = data_cfg
    full = LabelledPairs.from_layout(
        d.kind, d.root, d.split, normalizer=ThermalNormalizer(**(d.thermal or {})).for_stills()
    )
    items = full.items
    if d.list_file:
        keep = {
            p.name
            for p in select_listed([Pair(n, v, t) for n, v, t, _ in items], d.root, d.list_file)
        }
        items = [it for it in items if it[0] in keep]
    if d.max_samples:
        items = items[: int(d.max_samples)]
    train, val = split_pairs(items, d.val_fraction, d.seed)
    if not train or not val:
        raise DatasetError(
            f'the loss search needs training and search-validation pairs; got '
            f'{len(train)} and {len(val)} from {d.root} (data.val_fraction {d.val_fraction})'
        )
    crop = RandomPairCrop(d.crop)
    return (LabelledPairs(train, crop, full.normalizer), LabelledPairs(val, crop, full.normalizer))


class IgnoreSetLabels:
    """Sample transform: set labels (240-247, ``training.labels``) -> the ignore id 255."""

    low, high = SET_BASE, SET_BASE + 2 ** len(GROUP_BITS) - 1

    def __call__(self, sample: dict) -> dict:
        lab = sample['label']
        return {**sample, 'label': lab.masked_fill((lab >= self.low) & (lab <= self.high),
                                                   IGNORE_INDEX)}


def build_pseudo_labelled_datasets(data_cfg, label_dirs,
                                   search: bool = False) -> tuple[LabelledPairs, LabelledPairs]:
    """
    Return (train, val) LabelledPairs of the configured pairs with ``ssvif_make_labels`` labels.

    ``label_dirs``: folders searched in order for ``NAME.png`` (a pair
    without one is an error). Split as ``build_datasets`` splits the same
    pairs (``data.val_fraction``, ``data.seed``); training crops after
    ``data.augment``, validation as ``data.val_mode``. ``search``: both
    parts randomly cropped (CAF's loss search, as ``build_search_datasets``).
    Set labels are ignored (module docstring).
    """
    from pathlib import Path

    dirs = [Path(d) for d in label_dirs]
    items = []
    for p in configured_pairs(data_cfg):
        lab = next((d / f'{p.name}.png' for d in dirs if (d / f'{p.name}.png').is_file()), None)
        if lab is None:
            raise DatasetError(f'no label {p.name}.png in {", ".join(map(str, dirs))} '
                               '(make them with ssvif_make_labels)')
        items.append((p.name, p.visible, p.thermal, lab))
    try:
        normalizer = ThermalNormalizer(**(data_cfg.thermal or {})).for_stills()
    except TypeError as e:
        raise DatasetError(f'data.thermal: {e}') from None
    train, val = split_pairs(items, data_cfg.val_fraction, data_cfg.seed)
    if not train or (search and not val):
        raise DatasetError(f'{len(train)} training and {len(val)} validation pairs: too few')
    first = IgnoreSetLabels()
    train_tf = RandomPairCrop(data_cfg.crop) if search else train_transform(data_cfg)
    val_tf = RandomPairCrop(data_cfg.crop) if search else validation_transform(data_cfg)
    return (LabelledPairs(train, PairCompose([first, train_tf]), normalizer),
            LabelledPairs(val, PairCompose([first, val_tf]), normalizer))


class PairCollate:
    """
    Stack a batch of visible/thermal pairs (and names); ``labels``: their labels too.

    ``what`` names the consumer in the messages: label-free training refuses
    a ``label`` key, supervised training needs one on every sample.
    """

    def __init__(self, labels: bool, what: str):
        self.labels, self.what = labels, what

    def __call__(self, batch: list[dict]) -> dict:
        has = [('label' in b) for b in batch]
        if any(has) and not self.labels:
            raise RuntimeError(f"{self.what} is label-free: the dataset returned a 'label' key")
        if self.labels and not all(has):
            raise RuntimeError(f"{self.what} needs labels: a sample has no 'label' key")
        out = {'visible': torch.stack([b['visible'] for b in batch]),
               'thermal': torch.stack([b['thermal'] for b in batch]),
               'name': [b['name'] for b in batch]}
        if self.labels:
            out['label'] = torch.stack([b['label'] for b in batch])
        return out
