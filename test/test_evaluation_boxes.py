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
Box recall and pixel precision of masks against real boxes (evaluation/metrics/boxes.py).

Real RGB-thermal pairs have no pixel labels, only boxes, so these scores are
the only real-data check of a mask: every rule (20 % found, 24 px tall, 15 %
enlargement, IoU 0.5 merge, rounding) is pinned here on hand-made inputs
with hand-computed values, then ``evaluate_segmentation`` end to end on a
tiny written dataset and on two real MSRS pairs with the shipped model.
"""
from __future__ import annotations

import ast
import csv
import json
import math
from pathlib import Path

import cv2
from evaluation.box_protocol import main, pick_overlay_names, score_masks
from evaluation.metrics.boxes import (
    Box,
    box_iou,
    box_pixel_bounds,
    BoxScore,
    GROUPS,
    LabelError,
    merge_annotations,
    read_yolo_boxes,
    subset_of,
)
import numpy as np
import pytest
from ros2_ssvif.classes import class_id


REPO = Path(__file__).resolve().parents[1]
PERSON, CAR, TRUCK, BICYCLE = (class_id(n) for n in ('person', 'car', 'truck', 'bicycle'))


def _mask(size=100):
    return np.zeros((size, size), np.uint8)


# -- the metric ------------------------------------------------------------------------------


def test_groups_are_fmb_names():
    assert GROUPS == {'person': ('person',), 'car': ('car', 'truck', 'bus'),
                      'bicycle': ('bicycle', 'motorcycle')}
    assert BoxScore().group_ids == {'person': (8,), 'car': (9, 10, 11), 'bicycle': (13, 12)}


@pytest.mark.parametrize('rows,found', [(10, True), (8, True), (6, False)])
def test_box_found_at_20_percent_of_its_pixels(rows, found):
    box = Box('person', 20, 20, 40, 60)  # 20 x 40 = 800 px
    m = _mask()
    m[20:20 + rows, 20:40] = PERSON  # 10 rows = 25 %, 8 rows = exactly 20 %, 6 rows = 15 %
    s = BoxScore()
    assert s.update('a1D', m, [box]) == [found]
    r = s.summary()['day']['person']
    assert (r['boxes'], r['found']) == (1, int(found))
    assert r['recall'] == (1.0 if found else 0.0)


def test_other_group_pixels_do_not_find_a_box():
    m = _mask()
    m[20:60, 20:40] = CAR
    assert BoxScore().update('x', m, [Box('person', 20, 20, 40, 60)]) == [False]


def test_tall_set_is_boxes_at_least_24_px_tall():
    boxes = [Box('car', 0, 0, 10, 30), Box('car', 50, 0, 60, 20), Box('car', 70, 0, 80, 24)]
    m = _mask()
    m[0:30, 0:10] = CAR  # finds the 30 px box only
    s = BoxScore()
    s.update('n1N', m, boxes)
    r = s.summary()['night']['car']
    assert (r['boxes'], r['boxes_tall'], r['found'], r['found_tall']) == (3, 2, 1, 1)
    assert r['recall'] == pytest.approx(1 / 3) and r['recall_tall'] == 0.5


def test_24_px_from_normalised_labels_counts_as_tall(tmp_path):
    f = tmp_path / 'a.txt'
    f.write_text('2 0.5 0.5 0.1 0.05\n2 0.5 0.5 0.1 0.0625\n2 0.5 0.5 0.1 0.041667\n')
    boxes = read_yolo_boxes(f, 640, 480)
    s = BoxScore()
    s.update('a', np.zeros((480, 640), np.uint8), boxes)
    assert [round(b.height, 3) for b in boxes] == [24.0, 30.0, 20.0]
    assert s.summary()['all']['car']['boxes_tall'] == 2


def test_precision_counts_the_15_percent_enlargement_exactly():
    box = Box('person', 40, 40, 60, 80)  # w 20, h 40: enlarged by 3 / 6 px -> [37, 63) x [34, 86)
    m = _mask()
    m[50:52, 45:50] = PERSON  # 10 px inside the box
    for r, c in [(50, 37), (50, 62), (34, 50), (85, 50)]:  # on the enlarged edge: inside
        m[r, c] = PERSON
    for r, c in [(50, 36), (50, 63), (33, 50), (86, 50)]:  # one pixel further: outside
        m[r, c] = PERSON
    s = BoxScore()
    s.update('x', m, [box])
    r = s.summary()['all']['person']
    assert (r['predicted_pixels'], r['inside_pixels']) == (18, 14)
    assert r['precision'] == 14 / 18
    plain = BoxScore(enlarge=0.0)
    plain.update('x', m, [box])
    assert plain.summary()['all']['person']['inside_pixels'] == 10


def test_precision_is_summed_over_images_not_averaged():
    s = BoxScore()
    a = _mask()
    a[0:10, 0:10] = CAR  # 100 px, all inside
    b = _mask()
    b[0:10, 0:30] = CAR  # 300 px, 100 inside
    s.update('a', a, [Box('car', 0, 0, 10, 10)])
    s.update('b', b, [Box('car', 0, 0, 10, 10)])
    # enlarged box [0, 11.5) -> 12 px a side (clipped at 0): 120 of b's pixels are inside
    r = s.summary()['all']['car']
    assert (r['predicted_pixels'], r['inside_pixels']) == (400, 220)
    assert r['precision'] == 220 / 400  # not (1 + 120 / 300) / 2


def test_truck_pixels_count_for_the_car_group():
    m = _mask()
    m[10:30, 10:30] = TRUCK
    s = BoxScore()
    assert s.update('x', m, [Box('car', 10, 10, 30, 30)]) == [True]
    r = s.summary()['all']['car']
    assert r['precision'] == 1.0 and r['predicted_pixels'] == 400


def test_no_predicted_pixels_is_nan_precision_and_no_boxes_nan_recall():
    s = BoxScore()
    s.update('x', _mask(), [Box('person', 0, 0, 10, 30)])
    r = s.summary()['all']
    assert r['person']['recall'] == 0.0 and math.isnan(r['person']['precision'])
    assert math.isnan(r['bicycle']['recall']) and math.isnan(r['bicycle']['recall_tall'])
    assert r['bicycle']['boxes'] == 0


def test_day_night_split_by_name_suffix():
    assert [subset_of(n) for n in ('00004N', '00143D', 'x.png', 'a1d', True, False)] == [
        'night', 'day', None, 'day', 'night', 'day']
    s = BoxScore()
    m = _mask()
    m[0:10, 0:10] = PERSON
    box = [Box('person', 0, 0, 10, 10)]
    s.update('00001D', m, box)
    s.update('00002N', _mask(), box)
    s.update(True, m, box)
    s.update('other', m, box)
    r = s.summary()
    assert (r['day']['person']['images'], r['day']['person']['found']) == (1, 1)
    assert (r['night']['person']['images'], r['night']['person']['boxes'],
            r['night']['person']['found']) == (2, 2, 1)
    assert (r['all']['person']['images'], r['all']['person']['found']) == (4, 3)


def test_pixel_grid_rounds_edges_halves_up_and_clips():
    assert box_pixel_bounds(Box('car', 10.5, 10.4, 20.5, 20.6), 100, 100) == (11, 10, 21, 21)
    assert box_pixel_bounds(Box('car', -5, 95, 10, 120), 100, 100) == (0, 95, 10, 100)
    assert box_pixel_bounds(Box('car', 10.2, 10.2, 10.3, 10.3), 100, 100) == (10, 10, 11, 11)


def test_bad_mask_values_are_refused():
    m = _mask()
    m[0, 0] = 15
    with pytest.raises(ValueError, match='outside 0..14'):
        BoxScore().update('x', m, [])
    m[0, 0] = 255  # ignore is allowed and counts for nothing
    BoxScore().update('x', m, [])


# -- merging the two bands' annotations ------------------------------------------------------


def test_same_group_iou_at_least_half_merge_into_their_union():
    v, i = Box('person', 10, 10, 30, 30, 'visible'), Box('person', 12, 10, 32, 30, 'infrared')
    assert box_iou(v, i) == pytest.approx(360 / 440)
    (m,) = merge_annotations([v], [i])
    assert (m.x0, m.y0, m.x1, m.y1, m.source) == (10, 10, 32, 30, 'visible+infrared')
    (big,) = merge_annotations([Box('car', 0, 0, 20, 10)], [Box('car', 0, 0, 10, 10)])
    assert (big.x1, big.y1) == (20, 10)  # IoU exactly 0.5 merges
    (lg,) = merge_annotations([v], [i], keep='larger')
    assert (lg.x0, lg.x1) == (10, 30)  # equal areas: the first


def test_low_iou_or_other_group_stay_two():
    a = Box('person', 10, 10, 30, 30)
    assert len(merge_annotations([a], [Box('person', 20, 10, 40, 30)])) == 2  # IoU 1/3
    assert len(merge_annotations([a], [Box('bicycle', 10, 10, 30, 30)])) == 2
    assert len(merge_annotations([a], [])) == 1 and len(merge_annotations([], [a])) == 1


def test_merge_is_greedy_by_highest_iou_one_to_one():
    a = Box('person', 0, 0, 10, 10)
    b1, b2 = Box('person', 0, 0, 10, 7), Box('person', 0, 0, 10, 9)  # IoU 0.7 and 0.9
    out = merge_annotations([a], [b1, b2], keep='larger')
    assert len(out) == 2 and out[0] == a and out[1] == b1


# -- YOLO labels -----------------------------------------------------------------------------


def test_yolo_normalised_to_pixels(tmp_path):
    f = tmp_path / 'x.txt'
    f.write_text('0 0.5 0.5 0.2 0.1\n\n2 0.25 0.75 0.1 0.2\n1 0.95 0.5 0.2 0.2')  # no final \n
    b = read_yolo_boxes(f, 640, 480, source='visible')
    assert [x.group for x in b] == ['person', 'car', 'bicycle']
    assert np.allclose([(x.x0, x.y0, x.x1, x.y1) for x in b], [
        (256, 216, 384, 264), (128, 312, 192, 408), (544, 192, 640, 288)])  # clipped at 640
    assert b[2].x1 == 640 and b[0].source == 'visible'
    (tmp_path / 'e.txt').write_text('')
    assert read_yolo_boxes(tmp_path / 'e.txt', 640, 480) == []


@pytest.mark.parametrize('line,what', [
    ('0 0.5 0.5 0.2', 'expected 5 fields'),
    ('0 0.5 abc 0.2 0.1', 'not a number'),
    ('7 0.5 0.5 0.2 0.1', 'unknown class'),
    ('0 0.5 0.5 -0.2 0.1', 'positive'),
    ('0 320 240 20 10', 'normalised'),
])
def test_malformed_yolo_line_names_file_and_line(tmp_path, line, what):
    f = tmp_path / 'bad.txt'
    f.write_text(f'0 0.5 0.5 0.2 0.1\n{line}\n')
    with pytest.raises(LabelError, match=what) as err:
        read_yolo_boxes(f, 640, 480)
    assert f'{f}:2:' in str(err.value)
    with pytest.raises(LabelError, match='not found'):
        read_yolo_boxes(tmp_path / 'missing.txt', 640, 480)


def test_boxes_module_is_torch_free_and_below_the_rest_of_evaluation():
    tree = ast.parse((REPO / 'evaluation' / 'metrics' / 'boxes.py').read_text())
    mods = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    mods += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in mods if m.startswith(('torch', 'training'))]
    assert not [m for m in mods if m.startswith('evaluation')
                and not m.startswith('evaluation.metrics')]


# -- the command on a tiny dataset -----------------------------------------------------------


def _write(path: Path, img) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def tiny(tmp_path):
    """Two 100x100 pairs (A1D day, B2N night), their labels and a folder of masks."""
    data = tmp_path / 'data'
    for name in ('A1D', 'B2N'):
        _write(data / 'vi' / f'{name}.png', np.full((100, 100, 3), 90, np.uint8))
        _write(data / 'ir' / f'{name}.png', np.full((100, 100), 60, np.uint8))
    (data / 'pairs.txt').write_text('A1D\nB2N\n')
    labels = {
        'visible': {'A1D': '0 0.3 0.5 0.2 0.4\n', 'B2N': '2 0.5 0.5 0.4 0.3\n'},
        # A1D: the same person, 1 px right (IoU 0.905, merged into x 20..41), and a 20 px car
        'infrared': {'A1D': '0 0.31 0.5 0.2 0.4\n2 0.8 0.2 0.2 0.2\n', 'B2N': ''},
        'fusion': {'A1D': '', 'B2N': ''},
    }
    for src, files in labels.items():
        for name, text in files.items():
            p = data / 'labels' / src / f'{name}.txt'
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
    a = np.zeros((100, 100), np.uint8)
    a[30:70, 20:41] = PERSON  # the merged person box, all of it: 840 px
    a[90:100, 0:10] = CAR  # 100 car px in no box
    b = np.zeros((100, 100), np.uint8)
    b[35:50, 30:70] = TRUCK  # half the car box (600 of 1200 px)
    b[0:10, 0:10] = PERSON  # 100 person px, no person box at night
    _write(tmp_path / 'masks' / 'A1D.png', a)
    _write(tmp_path / 'masks' / 'B2N.png', b)
    return tmp_path


def _csv(path: Path) -> dict:
    with path.open() as fh:
        return {(r['method'], r['subset'], r['group'], r['metric']): r['value']
                for r in csv.DictReader(fh)}


def test_cli_on_a_tiny_dataset_writes_the_hand_computed_numbers(tiny, capsys):
    out = tiny / 'report'
    rc = main(['--boxes', str(tiny / 'data'), '--method', f'hand={tiny / "masks"}',
               '--output', str(out), '--overlays', '2', '--no-progress'])
    assert rc == 0, capsys.readouterr().err
    v = _csv(out / 'box_scores.csv')
    expect = {
        ('day', 'person'): {'boxes': '1', 'boxes_tall': '1', 'found': '1', 'recall': '1.000000',
                            'predicted_pixels': '840', 'inside_pixels': '840',
                            'precision': '1.000000'},
        ('day', 'car'): {'boxes': '1', 'boxes_tall': '0', 'found': '0', 'recall': '0.000000',
                         'recall_tall': 'nan', 'predicted_pixels': '100',
                         'precision': '0.000000'},
        ('night', 'person'): {'boxes': '0', 'recall': 'nan', 'predicted_pixels': '100',
                              'inside_pixels': '0', 'precision': '0.000000'},
        ('night', 'car'): {'boxes': '1', 'boxes_tall': '1', 'found': '1', 'recall': '1.000000',
                           'predicted_pixels': '600', 'inside_pixels': '600',
                           'precision': '1.000000'},
        ('all', 'person'): {'boxes': '1', 'found': '1', 'predicted_pixels': '940',
                            'inside_pixels': '840', 'precision': f'{840 / 940:.6f}'},
        ('all', 'car'): {'boxes': '2', 'boxes_tall': '1', 'found': '1', 'found_tall': '1',
                         'recall': '0.500000', 'recall_tall': '1.000000',
                         'predicted_pixels': '700', 'inside_pixels': '600',
                         'precision': f'{600 / 700:.6f}'},
        ('all', 'bicycle'): {'boxes': '0', 'recall': 'nan', 'precision': 'nan'},
    }
    for (subset, group), metrics in expect.items():
        for k, want in metrics.items():
            assert v[('hand', subset, group, k)] == want, (subset, group, k)
    md = (out / 'summary.md').read_text()
    assert '| hand | 1.00 | 1.00 | 1.00 | – | 0.00 | 0.00 | – | – | – |' in md  # day
    assert '| hand | – | – | 0.00 | 1.00 | 1.00 | 1.00 | – | – | – |' in md  # night
    assert '| hand | 1.00 | 1.00 | 0.89 | 1.00 | 0.50 | 0.86 | – | – | – |' in md  # all
    assert 'boxes (≥24 px / all): person 1 / 1, car 0 / 1, bicycle 0 / 0' in md
    doc = json.loads((out / 'box_scores.json').read_text())
    assert doc['methods']['hand']['scores']['all']['bicycle']['precision'] is None
    assert sorted(p.name for p in (out / 'overlays').iterdir()) == ['A1D.png', 'B2N.png']
    assert (out / 'contact_sheet.png').is_file()


def test_score_masks_in_memory_equals_the_cli(tiny):
    masks = {n: cv2.imread(str(tiny / 'masks' / f'{n}.png'), cv2.IMREAD_UNCHANGED)
             for n in ('A1D', 'B2N')}
    s = score_masks(masks, ['A1D', 'B2N'], tiny / 'data').summary()
    assert s['all']['car']['precision'] == 600 / 700 and s['day']['person']['recall'] == 1.0
    only_visible = score_masks(masks.__getitem__, ['A1D'], tiny / 'data', ('visible',))
    assert only_visible.summary()['all']['car']['boxes'] == 0


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    assert err.startswith('evaluate_segmentation: error:'), err
    for n in needles:
        assert n in err, err


def test_cli_bad_input_is_one_line_and_exit_2(tiny, capsys):
    data, masks, out = str(tiny / 'data'), tiny / 'masks', str(tiny / 'r')
    (masks / 'B2N.png').rename(tiny / 'B2N.png')
    _one_line_error(capsys, ['--boxes', data, '--method', f'm={masks}', '--output', out,
                             '--no-progress'], 'B2N', 'm')
    (tiny / 'B2N.png').rename(masks / 'B2N.png')
    (tiny / 'data' / 'labels' / 'infrared' / 'A1D.txt').write_text('0 0.3 0.5\n')
    _one_line_error(capsys, ['--boxes', data, '--method', f'm={masks}', '--output', out,
                             '--no-progress'], 'A1D.txt:1')
    _one_line_error(capsys, ['--boxes', str(tiny / 'nope'), '--method', f'm={masks}',
                             '--output', out], 'nope')
    (tiny / 'x.txt').write_text('')
    _one_line_error(capsys, ['--boxes', data, '--method', f'm={tiny / "x.txt"}', '--output',
                             out], 'neither')
    _one_line_error(capsys, ['--boxes', data, '--method', 'no-equals-sign', '--output', out],
                    'NAME=PATH')
    (tiny / 'bad.onnx').write_text('not a model')
    _one_line_error(capsys, ['--boxes', data, '--method', f'm={tiny / "bad.onnx"}',
                             '--output', out], 'cannot load model')
    _one_line_error(capsys, ['--boxes', data, '--method', f'm={masks}', '--output', out,
                             '--box-sources', 'visible,radar'], 'box-sources')


def test_overlay_pairs_take_day_and_night():
    names = [f'{i:05d}{"D" if i % 3 else "N"}' for i in range(30)]
    picked = pick_overlay_names(names, 6)
    assert len(picked) == 6 and sum(subset_of(n) == 'night' for n in picked) == 3
    assert pick_overlay_names(['a1D', 'b2D'], 6) == ['a1D', 'b2D']


# -- the shipped model on real pairs ---------------------------------------------------------


def test_cli_runs_the_shipped_onnx_bundle_on_two_real_msrs_pairs(shared_data, tmp_path, capsys):
    root = shared_data / 'msrs_test_dev'
    if not (root / 'labels').is_dir():
        pytest.skip(f'{root} (real MSRS pairs with box labels) is missing')
    pairs = tmp_path / 'pairs.txt'
    pairs.write_text('00004N\n00143D\n')
    out = tmp_path / 'report'
    rc = main(['--boxes', str(root), '--pairs', str(pairs), '--method',
               f'shipped={REPO / "models" / "ssvif_default.onnx"}', '--output', str(out),
               '--overlays', '2', '--no-progress'])
    assert rc == 0, capsys.readouterr().err
    for f in ('summary.md', 'box_scores.csv', 'box_scores.json', 'contact_sheet.png',
              'overlays/00004N.png', 'overlays/00143D.png'):
        assert (out / f).is_file(), f
    scores = json.loads((out / 'box_scores.json').read_text())['methods']['shipped']['scores']
    assert scores['all']['person']['boxes'] > 0 and scores['all']['car']['boxes'] > 0
    for subset, groups in scores.items():
        for g, m in groups.items():
            for k in ('recall', 'recall_tall', 'precision'):
                assert m[k] is None or 0.0 <= m[k] <= 1.0, (subset, g, k, m[k])
    v = _csv(out / 'box_scores.csv')
    for (_, _, _, k), val in v.items():
        if k in ('recall', 'recall_tall', 'precision'):
            assert val == 'nan' or 0.0 <= float(val) <= 1.0
