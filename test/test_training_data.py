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

"""Datasets for SSVIF training: layouts, stem matching, 9:1 split, paired crops, no labels."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from training.config import DataConfig
from training.data import (
    build_datasets,
    DatasetError,
    find_pairs,
    FusionPairs,
    LabelledPairs,
    split_pairs,
)
from training.data import pairs as pairs_mod
from training.data.transforms import CenterPairCrop, RandomPairCrop


def _write_set(root, vis_dir, ir_dir, lab_dir, names, size=(20, 24), ir16=False, grey_vis=()):
    h, w = size
    for d in (vis_dir, ir_dir) + ((lab_dir,) if lab_dir else ()):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        vis = np.zeros((h, w, 3), np.uint8)
        vis[..., 2] = 200 + i  # red in RGB (OpenCV writes BGR)
        if n in grey_vis:
            cv2.imwrite(str(root / vis_dir / f'{n}.png'), np.full((h, w), 128, np.uint8))
        else:
            cv2.imwrite(str(root / vis_dir / f'{n}.png'), vis)
        ramp = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
        ir = (ramp * (40000 if ir16 else 250)).astype(np.uint16 if ir16 else np.uint8) + (
            1000 if ir16 else 0
        )
        cv2.imwrite(str(root / ir_dir / f'{n}.png'), ir)
        if lab_dir:
            lab = np.full((h, w), i % 3, np.uint8)
            lab[0, 0] = 255
            cv2.imwrite(str(root / lab_dir / f'{n}.png'), lab)


@pytest.mark.parametrize('kind,dirs', [
    ('fmb', ('train/Visible', 'train/Infrared', 'train/Label')),
    ('msrs', ('train/vi', 'train/ir', 'train/Segmentation_labels')),
    ('pairs', ('vi', 'ir', None)),
    ('synthetic_folder', ('visible', 'thermal', 'labels')),
])
def test_layouts_give_unit_range_tensors(tmp_path, kind, dirs):
    _write_set(
        tmp_path, *dirs, names=['a', 'b', 'c'], ir16=(kind == 'synthetic_folder'), grey_vis=('b',)
    )
    pairs = find_pairs(kind, tmp_path)
    assert [p.name for p in pairs] == ['a', 'b', 'c']
    s = FusionPairs(pairs)[0]
    assert set(s) == {'visible', 'thermal', 'name'}
    assert s['visible'].shape == (3, 20, 24) and s['thermal'].shape == (1, 20, 24)
    assert s['visible'].dtype == torch.float32
    assert torch.allclose(s['visible'][0], torch.full((20, 24), 200 / 255))  # BGR -> RGB
    assert float(s['visible'][2].max()) == 0.0
    # thermal goes through the node's normaliser for stills: 8-bit as given (/255, the ramp ends at
    # 250), raw 16-bit stretched by its own 1..99 % window
    assert float(s['thermal'].min()) == 0.0
    want_max = 1.0 if kind == 'synthetic_folder' else 250 / 255
    assert float(s['thermal'].max()) == pytest.approx(want_max, abs=1e-6)
    grey = FusionPairs(pairs)[1]['visible']
    assert torch.equal(grey[0], grey[1]) and torch.allclose(
        grey[0], torch.full((20, 24), 128 / 255)
    )


def test_unmatched_stems_are_listed(tmp_path):
    _write_set(tmp_path, 'vi', 'ir', None, names=['a', 'b'])
    cv2.imwrite(str(tmp_path / 'vi' / 'only_vis.png'), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'ir' / 'only_ir.png'), np.zeros((4, 4), np.uint8))
    with pytest.raises(DatasetError) as e:
        find_pairs('pairs', tmp_path)
    assert 'only_vis' in str(e.value) and 'only_ir' in str(e.value)


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(DatasetError, match='not a folder: .*Visible'):
        find_pairs('fmb', tmp_path)


def test_split_is_9_to_1_and_deterministic():
    items = list(range(50))
    tr, va = split_pairs(items, 0.1, seed=3)
    assert len(tr) == 45 and len(va) == 5 and sorted(tr + va) == items
    assert split_pairs(items, 0.1, seed=3) == (tr, va)
    assert split_pairs(items, 0.1, seed=4)[1] != va
    assert split_pairs(list(range(7)), 0.1, 0)[1].__len__() == 1  # at least one val sample


def test_random_crop_same_window_and_padding():
    vis = torch.arange(3 * 10 * 12, dtype=torch.float32).reshape(3, 10, 12)
    th = vis[:1].clone()
    torch.manual_seed(0)
    out = RandomPairCrop(6)({'visible': vis, 'thermal': th, 'name': 'x'})
    assert out['visible'].shape == (3, 6, 6)
    assert torch.equal(out['visible'][0], out['thermal'][0])  # same window in both modalities
    small = RandomPairCrop(16)(
        {'visible': vis, 'thermal': th, 'label': torch.ones(10, 12, dtype=torch.long)}
    )
    assert small['visible'].shape == (3, 16, 16)
    assert float(small['visible'][:, 10:].abs().sum()) == 0.0  # zero padding
    assert (
        int(small['label'][12, 14]) == 255 and int(small['label'][0, 0]) == 1
    )  # label pad = ignore
    c = CenterPairCrop(4)({'visible': vis, 'thermal': th})
    assert torch.equal(c['visible'], vis[:, 3:7, 4:8])


def test_ssvif_dataset_never_opens_labels(tmp_path, monkeypatch):
    _write_set(
        tmp_path,
        'train/Visible',
        'train/Infrared',
        'train/Label',
        names=[f'f{i}' for i in range(10)],
    )
    opened = []
    real = cv2.imread
    monkeypatch.setattr(
        pairs_mod.cv2, 'imread', lambda p, *a: (opened.append(str(p)), real(p, *a))[1]
    )
    train, val = build_datasets(DataConfig(kind='fmb', root=str(tmp_path), crop=16))
    assert (len(train), len(val)) == (9, 1)
    for ds in (train, val):
        for i in range(len(ds)):
            assert 'label' not in ds[i]
    assert opened and not any('Label' in p for p in opened)
    assert train[0]['visible'].shape == (3, 16, 16) and val[0]['thermal'].shape == (1, 16, 16)
    with pytest.raises(TypeError):
        FusionPairs([('n', 'v', 't', 'label')])


def test_labelled_pairs_reads_ids_as_long(tmp_path):
    _write_set(tmp_path, 'train/vi', 'train/ir', 'train/Segmentation_labels', names=['a', 'b'])
    ds = LabelledPairs.from_layout('msrs', tmp_path)
    s = ds[1]
    assert s['label'].dtype == torch.long and s['label'].shape == (20, 24)
    assert int(s['label'][0, 0]) == 255 and int(s['label'][5, 5]) == 1
    with pytest.raises(DatasetError, match='no labels'):
        LabelledPairs.from_layout('pairs', tmp_path)


def test_roadscene_pairs_load(shared_data):
    root = shared_data / 'ivf_roadscene50'
    if not root.is_dir():
        pytest.skip('ivf_roadscene50 not in shared data')
    train, val = build_datasets(DataConfig(kind='pairs', root=str(root), crop=32))
    assert (len(train), len(val)) == (45, 5)
    s = train[0]
    assert (
        s['visible'].shape == (3, 32, 32)
        and 0.0 <= float(s['thermal'].min()) <= float(s['thermal'].max()) <= 1.0
    )


def test_list_file_keeps_the_test_split_out_of_training(tmp_path):
    _write_set(tmp_path, 'vi', 'ir', None, names=['a', 'b', 'c', 'd', 'e'])
    (tmp_path / 'train.txt').write_text(
        'a.png\nc.jpg\n\ne\n'
    )  # names or stems, blank lines ignored
    cfg = DataConfig(
        kind='pairs', root=str(tmp_path), list_file='train.txt', val_fraction=0.0, crop=16
    )
    train, val = build_datasets(cfg)
    assert sorted(p.name for p in train.pairs) == ['a', 'c', 'e'] and len(val) == 0
    (tmp_path / 'bad.txt').write_text('a\nzz\n')
    with pytest.raises(DatasetError, match='1 listed pair.*zz'):
        build_datasets(DataConfig(kind='pairs', root=str(tmp_path), list_file='bad.txt', crop=16))
    with pytest.raises(DatasetError, match='cannot read'):
        build_datasets(
            DataConfig(kind='pairs', root=str(tmp_path), list_file='missing.txt', crop=16)
        )


def test_roadscene_train_split_excludes_the_cddfuse_test_pairs(shared_data):
    root = shared_data / 'ivf_roadscene221'
    train, val = build_datasets(
        DataConfig(kind='pairs', root=str(root), list_file='train_split.txt')
    )
    names = {p.name for p in train.pairs} | {p.name for p in val.pairs}
    test = {
        line.rsplit('.', 1)[0] for line in (root / 'test_split_cddfuse50.txt').read_text().split()
    }
    assert len(names) == 168 and len(test) == 50 and not names & test
    assert (len(train), len(val)) == (151, 17)  # the paper's 9:1 split
