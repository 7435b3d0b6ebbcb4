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

"""scripts/measure_recipe_folds.py: where false car pixels lie, the fold pairing, the table."""
import json
from pathlib import Path
import sys

import cv2
from evaluation.metrics.boxes import Box
import numpy as np
import pytest
from ros2_ssvif.classes import class_id

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
from measure_recipe_folds import (  # noqa: E402, I100 (a script, importable once its folder is)
    false_car_sources, fmt_range, in_fold_of, write_compare)


def _logits(ids: np.ndarray) -> np.ndarray:
    """(15, h, w) logits whose argmax is ``ids``."""
    lg = np.zeros((15,) + ids.shape, np.float32)
    for c in np.unique(ids):
        lg[c][ids == c] = 5.0
    return lg


def test_false_car_pixels_are_counted_by_the_label_under_them(tmp_path):
    car, building, road = class_id('car'), class_id('building'), class_id('road')
    small = np.full((8, 8), road, np.uint8)
    small[0:2, 0:4] = car      # 2x4 at half size -> 4x8 at full size: over the building label
    small[6:8, 6:8] = car      # 2x2 -> 4x4: inside the car box
    label = np.full((16, 16), road, np.uint8)
    label[0:4, :] = building
    label[0:4, 4:8] = 240      # "no object" under half of the false car
    (tmp_path / 'msrs_test_dev').mkdir()
    cv2.imwrite(str(tmp_path / 'msrs_test_dev' / 'x00D.png'), label)
    boxes = {'x00D': [Box('car', 12, 12, 16, 16)], 'x01N': []}
    night = np.full((8, 8), car, np.uint8)  # night pairs are not part of this count
    shares = false_car_sources({'x00D': _logits(small), 'x01N': _logits(night)}, boxes, tmp_path)
    # 32 + 16 predicted car pixels by day; 16 false on building, 16 false on "no object"
    assert shares == pytest.approx({'building': 16 / 48, 'no object': 16 / 48})


def test_each_fold_is_scored_in_fold_on_another_fold():
    assert in_fold_of('dev', ['dev', 'A']) == 'A'
    assert in_fold_of('A', ['dev', 'A']) == 'dev'
    assert in_fold_of('B', ['dev', 'A', 'B']) == 'dev'


def test_the_table_gives_the_mean_and_the_range_over_seeds(tmp_path):
    assert fmt_range([0.5]) == '0.50'
    assert fmt_range([0.5, 0.7, None]) == '0.60 (0.50–0.70)'
    assert fmt_range([None, float('nan')]) == '–'
    part = {k: [0.5, 0.25] for k in ('person day', 'car day', 'person night', 'car night')}
    other = {k: [0.7, 0.75] for k in part}
    run = {'set': ['segmenter.epochs=80'], 'seeds': {
        '0': {'out of fold': part, 'in fold': part, 'false car (day)': {'building': 0.2}},
        '1': {'out of fold': other, 'in fold': part, 'false car (day)': {'building': 0.4}}}}
    (tmp_path / 'long').mkdir()
    (tmp_path / 'long' / 'summary.json').write_text(json.dumps(run))
    text = write_compare(tmp_path)
    row = next(line for line in text.splitlines() if 'out of fold' in line)
    assert row.startswith('| long: segmenter.epochs=80 (2) | out of fold | 0.60 (0.50–0.70) / '
                          '0.50 (0.25–0.75) |')
    assert '| long | building 0.30 |' in text
    assert (tmp_path / 'compare.md').read_text() == text
    assert (tmp_path / 'compare.png').stat().st_size > 10_000  # the plot beside it
