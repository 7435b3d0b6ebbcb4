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

"""``evaluate_fusion`` on a temporary folder of synthetic images."""
from __future__ import annotations

import csv
from pathlib import Path
import sys

import cv2
import numpy as np
import pytest


try:
    import evaluation  # noqa: F401
except ImportError:  # editable install made before evaluation/ existed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.cli import main  # noqa: I100 (after the import guard)
from evaluation.io import read_image
from evaluation.metrics import compute_all, METRICS


def _folders(tmp_path: Path, stems=('a', 'b'), size=(170, 170), fused_size=None):
    rng = np.random.default_rng(3)
    d = {k: tmp_path / k for k in ('ir', 'vi', 'fused')}
    for p in d.values():
        p.mkdir()
    for s in stems:
        ir = rng.integers(0, 256, size, dtype=np.uint8)
        vi = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        fu = (0.5 * ir[..., None] + 0.5 * vi).astype(np.uint8)
        if fused_size:
            fu = cv2.resize(fu, fused_size[::-1])
        cv2.imwrite(str(d['ir'] / f'{s}.png'), ir)
        cv2.imwrite(str(d['vi'] / f'{s}.png'), vi)
        cv2.imwrite(str(d['fused'] / f'{s}_MyNet.png'), fu)
    return d


def test_cli_writes_one_row_per_image_with_compute_all_values(tmp_path, capsys):
    d = _folders(tmp_path)
    out = tmp_path / 'res' / 'scores.csv'
    rc = main(['--ir', str(d['ir']), '--visible', str(d['vi']), '--fused', str(d['fused']),
               '--output', str(out), '--no-progress'])
    assert rc == 0
    rows = list(csv.DictReader(out.open()))
    assert [r['image'] for r in rows] == ['a', 'b']
    assert list(rows[0]) == ['image', *METRICS]
    ref = compute_all(read_image(d['fused'] / 'a_MyNet.png'), read_image(d['ir'] / 'a.png'),
                      read_image(d['vi'] / 'a.png'))
    for m in METRICS:
        assert float(rows[0][m]) == pytest.approx(ref[m], abs=1e-6), m
    text = capsys.readouterr().out
    assert '2 image(s)' in text and 'Qabf' in text and 'mean' in text


def test_cli_suffix_and_cddfuse(tmp_path):
    d = _folders(tmp_path, stems=('x',))
    out = tmp_path / 's.csv'
    rc = main(
        [
            '--ir',
            str(d['ir']),
            '--visible',
            str(d['vi']),
            '--fused',
            str(d['fused']),
            '--output',
            str(out),
            '--convention',
            'cddfuse',
            '--fused-suffix',
            '_MyNet',
            '--no-progress',
        ]
    )
    assert rc == 0
    row = next(csv.DictReader(out.open()))
    ref = compute_all(read_image(d['fused'] / 'x_MyNet.png'), read_image(d['ir'] / 'x.png'),
                      read_image(d['vi'] / 'x.png'), 'cddfuse')
    assert float(row['VIF']) == pytest.approx(ref['VIF'], abs=1e-6)


@pytest.mark.parametrize('case,message', [
    ('missing', 'not a folder'),
    ('suffix', 'no fused image'),
    ('size', 'sizes differ'),
])
def test_cli_bad_input_one_line_and_nonzero(tmp_path, capsys, case, message):
    d = _folders(
        tmp_path, stems=('a',), size=(40, 40), fused_size=(40, 41) if case == 'size' else None
    )
    args = ['--ir', str(d['ir']), '--visible', str(d['vi']), '--fused', str(d['fused']),
            '--output', str(tmp_path / 'o.csv'), '--no-progress']
    if case == 'missing':
        args[1] = str(tmp_path / 'nope')
    if case == 'suffix':
        args += ['--fused-suffix', '_Other']
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith('evaluate_fusion: error:')
    assert not (tmp_path / 'o.csv').exists()
