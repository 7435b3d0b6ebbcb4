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

"""``compare_fusion`` on tiny synthetic pairs whose ranking can be checked by hand."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
from evaluation.compare import baseline_image, BASELINES, main, rank_marks, summary_markdown, wins
from evaluation.io import read_image
from evaluation.metrics import compute_all, METRICS
import numpy as np
import pytest


SIZE = (40, 48)  # small: MS-SSIM comes back NaN (needs 161 px), everything else is scored


def _data(tmp_path: Path, stems=('a', 'b')):
    rng = np.random.default_rng(7)
    d = {k: tmp_path / k for k in ('vi', 'ir', 'copy', 'mix')}
    for p in d.values():
        p.mkdir()
    for s in stems:
        vi = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
        ir = rng.integers(0, 256, SIZE, dtype=np.uint8)
        cv2.imwrite(str(d['vi'] / f'{s}.png'), vi[..., ::-1])
        cv2.imwrite(str(d['ir'] / f'{s}.png'), ir)
        cv2.imwrite(
            str(d['copy'] / f'{s}_Copy.png'), vi[..., ::-1]
        )  # suffix matched by evaluation.io
        mix = (0.75 * vi + 0.25 * ir[..., None]).round().astype(np.uint8)
        cv2.imwrite(str(d['mix'] / f'{s}.png'), mix[..., ::-1])
    return d


def _table_row(md: str, method: str, section: str = 'Paper metrics') -> list[str]:
    part = md.split(section, 1)[1]
    for line in part.splitlines():
        if line.startswith(f'| {method} |'):
            return [c.strip() for c in line.strip('|').split('|')][1:]
    raise AssertionError(f'no row for {method}')


def test_rank_marks_bold_second_ties_nan_and_lower_is_better():
    assert rank_marks({'a': 3.0, 'b': 1.0, 'c': 2.0}) == {'a': 'best', 'c': 'second', 'b': ''}
    assert rank_marks({'a': 3.0, 'b': 1.0, 'c': 2.0}, lower_is_better=True) == {
        'b': 'best',
        'c': 'second',
        'a': '',
    }
    assert rank_marks({'a': 0.0, 'b': 0.0, 'c': 5.0, 'd': math.nan}, lower_is_better=True) == \
        {'a': 'best', 'b': 'best', 'c': 'second', 'd': ''}


def test_wins_counts_strictly_better_with_direction():
    means = {
        'x': {
            'EN': 7.0,
            'MI': 2.0,
            'VIF': 0.5,
            'Qabf': 0.5,
            'SSIM': 1.0,
            'MS_SSIM': math.nan,
            'DeltaE': 3.0,
        },
        'y': {
            'EN': 6.0,
            'MI': 2.0,
            'VIF': 0.6,
            'Qabf': 0.4,
            'SSIM': 1.1,
            'MS_SSIM': 0.9,
            'DeltaE': 4.0,
        },
    }
    assert wins(means, 'x', 'y') == ['EN', 'Qabf', 'DeltaE']
    md = summary_markdown(
        {m: {**dict.fromkeys(METRICS, 0.0), **v} for m, v in means.items()}, 2, 'vifb', ['x', 'y']
    )
    assert 'x better than y on 3 of 7 paper metrics: EN, Qabf, ΔE' in md


def test_baselines_values():
    rng = np.random.default_rng(1)
    vi = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    ir = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    ir3 = np.repeat(ir[..., None], 3, axis=2)
    np.testing.assert_array_equal(baseline_image('max', ir, vi), np.maximum(vi, ir3))
    np.testing.assert_array_equal(baseline_image('visible-only', ir, vi), vi)
    np.testing.assert_array_equal(baseline_image('thermal-only', ir, vi), ir3)
    avg = baseline_image('average', ir, vi)
    np.testing.assert_array_equal(avg, np.floor((vi.astype(int) + ir3 + 1) / 2))
    assert avg.dtype == np.uint8
    np.testing.assert_array_equal(baseline_image('average', np.array([[1, 255]], np.uint8),
                                                 np.array([[2, 255]], np.uint8)), [[2, 255]])
    assert set(BASELINES) == {'visible-only', 'thermal-only', 'average', 'max', 'max-luminance'}


def test_max_luminance_rule_keeps_visible_chroma():
    """
    Hand values, BT.601: where IR is brighter than Y it lifts Y, chroma kept.

    Red (200, 10, 10) has Y 66.8, Cr 223, Cb 96; IR 100 > Y lifts Y to 100
    with Cr/Cb kept -> R = 100 + 1.403 * 95 = 233.3, G = 100 - 0.714 * 95 + 0.344 * 32 = 43.2,
    B = 100 - 1.773 * 32 = 43.3. Where IR is darker than Y the visible pixel is kept.
    """
    vi = np.array([[[200, 10, 10], [200, 10, 10]]], np.uint8)
    ir = np.array([[100, 30]], np.uint8)
    out = baseline_image('max-luminance', ir, vi).astype(int)
    np.testing.assert_allclose(out[0, 0], [233, 43, 43], atol=1)
    np.testing.assert_allclose(out[0, 1], [200, 10, 10], atol=1)
    # a 3-channel IR file is reduced to its grey level first
    np.testing.assert_array_equal(
        baseline_image('max-luminance', np.repeat(ir[..., None], 3, 2), vi), out
    )


@pytest.mark.filterwarnings('ignore:MS_SSIM not computed')
def test_compare_writes_csv_summary_and_pictures(tmp_path, capsys):
    d = _data(tmp_path)
    out = tmp_path / 'report'
    rc = main(
        [
            '--visible',
            str(d['vi']),
            '--ir',
            str(d['ir']),
            '--method',
            f'Copy={d["copy"]}',
            '--method',
            f'Mix={d["mix"]}',
            '--baselines',
            '--output',
            str(out),
            '--no-progress',
        ]
    )
    assert rc == 0, capsys.readouterr().err
    rows = list(csv.DictReader((out / 'metrics.csv').open()))
    methods = ['Copy', 'Mix', 'visible-only', 'thermal-only', 'average', 'max', 'max-luminance']
    assert len(rows) == 2 * len(methods) * len(METRICS)
    assert list(rows[0]) == ['image', 'method', 'metric', 'value']
    assert {r['method'] for r in rows} == set(methods) and {r['image'] for r in rows} == {'a', 'b'}
    # the CSV holds compute_all's numbers
    ref = compute_all(
        read_image(d['mix'] / 'a.png'),
        read_image(d['ir'] / 'a.png'),
        read_image(d['vi'] / 'a.png'),
    )
    got = {
        r['metric']: float(r['value']) for r in rows if r['image'] == 'a' and r['method'] == 'Mix'
    }
    for k in METRICS:
        if math.isnan(ref[k]):
            assert math.isnan(got[k]), k
        else:
            assert got[k] == pytest.approx(ref[k], abs=1e-6), k
    md = (out / 'summary.md').read_text()
    # Copy == the visible image: DeltaE 0, bold; Mix (75 % visible) is second. visible-only has
    # the same 0 but the sources' copies are references, never ranked (they took the marks before)
    assert _table_row(md, 'Copy')[-1] == '**0.0000**'
    assert _table_row(md, 'visible-only')[-1] == '0.0000'
    assert _table_row(md, 'Mix')[-1].startswith('<u>')
    assert not _table_row(md, 'thermal-only')[-1].startswith(('**', '<u>'))
    assert _table_row(md, 'Copy')[5] == 'n/a'  # MS-SSIM on 40x48 images
    # exactly one best and one second mark per ranked column (ties aside) in the EN column
    en = [_table_row(md, m)[0] for m in methods]
    assert sum(c.startswith('**') for c in en) >= 1 and sum(c.startswith('<u>') for c in en) >= 1
    assert 'Copy better than Mix on' in md
    for name in ('distributions.png', 'grid.png'):
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert (out / 'grid.png').stat().st_size < 600_000


@pytest.mark.parametrize('argv, needle', [
    (['--method', 'bad'], 'NAME=SOURCE'),
    (['--method', 'X=/nonexistent/folder'], 'neither a folder, a .pt checkpoint nor an .onnx'),
    (['--method', 'X=/nonexistent/model.pt'], 'checkpoint not found'),
    ([], 'nothing to compare'),
])
def test_compare_errors_are_one_line(tmp_path, capsys, argv, needle):
    d = _data(tmp_path, stems=('a',))
    rc = main(
        ['--visible', str(d['vi']), '--ir', str(d['ir']), '--output', str(tmp_path / 'o'), *argv]
    )
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and err.count('\n') == 1 and 'Traceback' not in err


def test_compare_missing_folder_is_one_line(tmp_path, capsys):
    rc = main(['--visible', str(tmp_path / 'nope'), '--ir', str(tmp_path / 'nope'), '--baselines',
               '--output', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert rc == 2 and 'not a folder' in err and err.count('\n') == 1
