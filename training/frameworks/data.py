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
Labelled (train, val) datasets for the supervised frameworks (MultiTaskVIF, SegMiF, SeAFusion).

The same split and crops as ``training.data.build_datasets`` (9:1 by
``data.seed``, random crops for training, centre crops or full images for
validation), but from :class:`training.data.LabelledPairs`, so every sample
carries its ``label``; crops pad labels with the ignore id 255. Only the
labelled layouts (fmb, msrs, synthetic_folder) qualify; ``data.list_file``
is refused here rather than silently ignored.
"""
from __future__ import annotations

from ros2_ssvif.thermal import ThermalNormalizer
from torch.utils.data import Dataset
from training.data import (
    DatasetError,
    LabelledPairs,
    RandomPairCrop,
    split_pairs,
    validation_transform,
)


__all__ = ['build_labelled_datasets']


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
    return (LabelledPairs(train, transform=RandomPairCrop(data_cfg.crop), normalizer=normalizer),
            LabelledPairs(val, transform=validation_transform(data_cfg), normalizer=normalizer))
