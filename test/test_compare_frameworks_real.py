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

"""scripts/compare_frameworks_real.py at toy sizes, and the labelled pairs it trains on."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest


REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        'compare_frameworks_real', REPO / 'scripts' / 'compare_frameworks_real.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_set_labels_are_ignored_and_the_split_is_the_unlabelled_one(tmp_path):
    from training.config import DataConfig
    from training.data import build_datasets
    from training.data.labelled import build_pseudo_labelled_datasets

    root, labels = tmp_path / 'pairs', tmp_path / 'labels'
    for sub in ('vi', 'ir'):
        (root / sub).mkdir(parents=True)
    labels.mkdir()
    for i in range(6):
        cv2.imwrite(str(root / 'vi' / f'p{i}.png'), np.full((20, 24, 3), 40 * i, np.uint8))
        cv2.imwrite(str(root / 'ir' / f'p{i}.png'), np.full((20, 24), 200, np.uint8))
        lab = np.zeros((20, 24), np.uint8)
        lab[:5], lab[5:10], lab[10:12], lab[12:14] = 240, 247, 255, 11  # sets, ignore, person
        cv2.imwrite(str(labels / f'p{i}.png'), lab)
    cfg = DataConfig(kind='pairs', root=str(root), crop=16, val_fraction=0.34)
    train, val = build_pseudo_labelled_datasets(cfg, [tmp_path / 'none', labels])
    plain_train, plain_val = build_datasets(cfg)
    assert [n for n, *_ in train.items] == [p.name for p in plain_train.pairs]
    assert [n for n, *_ in val.items] == [p.name for p in plain_val.pairs] and len(val) == 2
    values = set(np.unique(train[0]['label'].numpy()).tolist())
    assert values <= {0, 11, 255} and 255 in values and train[0]['label'].shape == (16, 16)
    search_train, search_val = build_pseudo_labelled_datasets(cfg, [labels], search=True)
    assert search_val[0]['label'].shape == (16, 16)
    (labels / 'p3.png').unlink()
    with pytest.raises(ValueError, match='no label p3.png'):
        build_pseudo_labelled_datasets(cfg, [labels])


def test_smoke_run_scores_every_row_and_trains_on_no_validation_pair(tmp_path, shared_data):
    weights = shared_data.parent / 'weights'
    if not weights.is_dir():
        pytest.skip('../shared/weights (the label teachers) is not beside this checkout')
    mod = _script()
    summary, out = tmp_path / 'summary', tmp_path / 'out'
    rc = mod.main(['--smoke', '--seeds', '0', '1', '--data', str(shared_data), '--weights',
                   str(weights), '--output', str(out), '--summary', str(summary),
                   '--no-progress', '--parallel', '2', '--threads', '1'])
    assert rc == 0
    # --parallel: every row ran in a worker process of its own, its output in its log
    logs = sorted(out.glob('runs/*/s*/log.txt'))
    assert len(logs) == len(mod.ROWS) + len(mod.ONE_LINE) + 2
    assert all((log.parent / 'result.json').is_file() for log in logs)
    doc = json.loads((summary / 'results.json').read_text())
    rows = [*mod.ROWS, *mod.ONE_LINE]
    first = {r['row'] for r in doc['runs'] if r['seed'] == 0}
    assert first == set(rows)
    again = [r['row'] for r in doc['runs'] if r['seed'] == 1]
    assert again == doc['meta']['seed_rows'] and again[0] == mod.SSVIF_ROW and len(again) == 2
    for r in doc['runs']:
        assert set(r['box']) == {'day', 'night', 'all'}
        for subset in r['box'].values():
            for group in ('person', 'car', 'bicycle'):
                for key in ('recall_tall', 'precision'):
                    v = subset[group][key]
                    assert v is None or (math.isfinite(v) and 0.0 <= v <= 1.0), (r['row'], v)
        assert (r.get('framework') is not None) == (r['row'] in mod.ROWS)
    supervised = {r['row'] for r in doc['runs'] if r.get('labels')}
    assert supervised == {'Original SeAF.', 'MultiTaskVIF I (SwinF.)', 'SegMiF', 'CAF',
                          'Bi-level'}
    for name, means in doc['fusion'].items():
        for row in mod.ROWS:
            assert f'{row} [s0]' in means, (name, row)
        assert 'max-luminance' in means and all(0 <= m['DeltaE'] < 100 for m in means.values())
    readme = (summary / 'README.md').read_text()
    for row in rows:
        assert f'| {row} |' in readme, row
    assert 'scripts/compare_frameworks_real.py --smoke' in readme
    assert '## What the numbers say (generated)' in readme and mod.SSVIF_ROW in readme
    # only the MIT pictures and the numbers reach the summary folder
    assert {p.name for p in summary.iterdir()} == {
        'README.md', 'results.json', 'fusion_seafusion_test12.png', 'masks_seafusion_test12.jpg'}
    # no validation name was trained on: fusion pairs, segmenter boxes, labels
    from ros2_ssvif.image_files import read_name_list
    from training.data.splits import split_file

    val = set(read_name_list(split_file('val')))
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['fusion_pairs'] and not set(manifest['fusion_pairs']) & val
    assert not set(manifest['segmenter_boxes']) & val and set(manifest['scored']) <= val
    labelled = {p.stem for p in (out / 'labels' / 'msrs_test_dev').glob('*.png')}
    assert labelled and not labelled & val


def test_a_failed_worker_names_its_log(tmp_path):
    """A --parallel worker that exits non-zero stops the run with the path of its log."""
    mod = _script()  # puts scripts/ on the path
    from compare_frameworks import slug

    ctx = {'out': tmp_path, 'slug': slug}
    bad = ['--data', str(tmp_path / 'nowhere'), '--output', str(tmp_path)]
    with pytest.raises(RuntimeError, match=r"row 'CAF', seed 3 failed \(exit code 2\): .*log.txt"):
        mod.run_rows([('CAF', 3)], ctx, 2, 1, bad)
    log = tmp_path / 'runs' / slug('CAF') / 's3' / 'log.txt'
    assert 'is missing' in log.read_text()
