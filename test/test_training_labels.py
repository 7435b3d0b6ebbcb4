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

"""Training labels without pixel annotation: box masks, teacher agreement, partial-label loss."""
from __future__ import annotations

import math

import cv2
from evaluation.metrics.boxes import Box
import numpy as np
import pytest
from ros2_ssvif.classes import class_id, IGNORE_INDEX
import torch
from training.data.segmentation import Augment, SegmentationSamples
from training.labels import BACKGROUND_ANY, background_classes, label_sets, set_label
from training.labels.cli import main as make_main
from training.labels.compose import compose_label, LabelRule, teacher_agreement
from training.labels.make import is_day, max_luminance
from training.labels.object_masks import bicycle_mask, core_mask, MaskRule, object_mask, \
    warm_blob
from training.losses.segmentation import partial_label_ce
from training.teachers import TeacherOutput

PERSON, CAR, ROAD, SKY = (class_id(n) for n in ('person', 'car', 'road', 'sky'))
GROUP_IDS = {'person': (PERSON,), 'car': (CAR, class_id('truck'), class_id('bus')),
             'bicycle': (class_id('bicycle'), class_id('motorcycle'))}


def _scene(h=120, w=160):
    """Cool background with noise, one warm person-shaped blob at rows 40-89, cols 70-84."""
    rng = np.random.default_rng(0)
    th = (60 + rng.integers(0, 10, (h, w))).astype(np.uint8)
    th[40:90, 70:85] = 200
    return th


def test_warm_blob_in_a_person_box_is_that_blob():
    th = _scene()
    box = Box('person', 62, 34, 93, 96)  # the blob plus a margin of cool pixels
    blob = warm_blob(th, box)
    assert blob is not None and blob.shape == (62, 31)
    expected = np.zeros_like(blob)
    expected[40 - 34:90 - 34, 70 - 62:85 - 62] = True
    assert np.array_equal(blob, expected)


def test_no_warm_blob_in_a_uniform_box():
    th = np.full((50, 50), 80, np.uint8)
    assert warm_blob(th, Box('person', 10, 10, 30, 40)) is None


def test_blob_that_fills_the_box_is_refused():
    th = _scene()
    # a box inside the warm area: everything is warm, so the blob is the background
    assert warm_blob(th, Box('person', 71, 45, 84, 85)) is None


def test_car_box_without_teacher_labels_its_core():
    box = Box('car', 10, 20, 110, 70)  # 100 x 50 px
    mask, source = object_mask(box, np.zeros((100, 120), np.uint8), None, GROUP_IDS)
    assert source == 'core'
    assert mask.shape == (50, 100) and mask.sum() == 70 * 30
    assert mask[25, 50] and not mask[0, 0] and not mask[49, 99]
    assert np.array_equal(mask, core_mask(box, (100, 120)))


def test_car_box_uses_the_teacher_where_it_covers_the_box():
    ids = np.full((100, 120), IGNORE_INDEX, np.uint8)
    ids[30:70, 20:100] = CAR
    mask, source = object_mask(Box('car', 10, 20, 110, 70), np.zeros((100, 120), np.uint8),
                               ids, GROUP_IDS)
    assert source == 'teacher' and mask.sum() == 40 * 80


def _teacher(ids, conf=0.9):
    ids = np.asarray(ids, np.uint8)
    return TeacherOutput(ids, np.full(ids.shape, conf, np.float32), ids)


def test_teacher_agreement_needs_same_class_and_confidence():
    a = _teacher([[ROAD, ROAD, SKY]])
    b = _teacher([[ROAD, SKY, SKY]])
    c = TeacherOutput(b.fmb_ids, np.array([[0.9, 0.9, 0.4]], np.float32), b.fmb_ids)
    assert teacher_agreement([a, b], 0.5).tolist() == [[ROAD, IGNORE_INDEX, SKY]]
    assert teacher_agreement([a, c], 0.5).tolist() == [[ROAD, IGNORE_INDEX, IGNORE_INDEX]]


def test_compose_night_frame_boxes_and_thermal_only():
    th = _scene()
    box = Box('person', 62, 34, 93, 96)
    label, sources = compose_label(th.shape, th, None, [box])
    assert sources == {'person:thermal': 1}
    assert (label[40:90, 70:85] == PERSON).all()
    assert (label == PERSON).sum() == 50 * 15
    # outside the box enlarged by 15 % (4.65 px, 9.3 px): no object; the margin: ignored
    assert label[0, 0] == BACKGROUND_ANY and label[119, 159] == BACKGROUND_ANY
    near_person = set_label(['person'])       # background or person, but not a car
    assert label[30, 60] == near_person       # inside the enlarged box, not the blob
    assert label[37, 64] == near_person       # in the box, cool
    assert label[24, 77] == BACKGROUND_ANY    # above the enlarged box (34 - 9.3 = 24.7 -> 25)
    assert label[25, 77] == near_person
    assert IGNORE_INDEX not in label


def test_compose_day_frame_teacher_background_and_objects():
    h, w = 60, 80
    ids = np.full((h, w), ROAD, np.uint8)
    ids[:20] = SKY
    ids[30:50, 5:25] = CAR        # a car the teacher sees with no box: stays ignored
    ids[30:50, 50:70] = CAR       # a boxed car
    other = ids.copy()
    other[28:30, 48:72] = SKY     # the teachers disagree on the box's top rows
    teachers = [_teacher(ids), _teacher(other)]
    th = np.full((h, w), 50, np.uint8)
    label, sources = compose_label((h, w), th, teachers, [Box('car', 48, 28, 72, 52)])
    assert label[5, 5] == SKY and label[55, 40] == ROAD
    assert (label[30:50, 5:25] == IGNORE_INDEX).all()
    assert (label[30:50, 50:70] == CAR).all()
    assert label[29, 55] == set_label(['car'])  # in the car box, no agreement: car or not
    assert label[51, 55] == ROAD                # in the box, agreed background: kept
    assert sources == {'car:teacher': 1}
    # without boxes (RoadScene), agreed object pixels are trusted as they are
    label, _ = compose_label((h, w), th, teachers, None)
    assert (label[30:50, 5:25] == CAR).all()
    assert not ((label >= BACKGROUND_ANY) & (label != IGNORE_INDEX)).any()


BICYCLE = class_id('bicycle')
RIDER = MaskRule(rider_as_bicycle=True)


def test_a_riders_warm_blob_in_a_bicycle_box_is_bicycle_only_with_the_rider_rule():
    th = _scene()  # warm blob rows 40-89, cols 70-84
    box = Box('bicycle', 62, 34, 93, 96)
    mask, source = bicycle_mask(box, th, None, GROUP_IDS['bicycle'], None)
    assert (mask, source) == (None, 'none')  # the default: no teacher, nothing
    mask, source = bicycle_mask(box, th, None, GROUP_IDS['bicycle'], None, RIDER)
    assert source == 'thermal' and mask.sum() == 50 * 15
    # a person box over the blob's top half: those pixels stay the person's
    cover = np.zeros(th.shape, bool)
    cover[34:65, 62:93] = True
    mask, _ = bicycle_mask(box, th, None, GROUP_IDS['bicycle'], cover, RIDER)
    assert mask.sum() == (90 - 65) * 15
    # by day the teacher's wheels join the rider
    ids = np.full(th.shape, IGNORE_INDEX, np.uint8)
    ids[80:96, 62:93] = BICYCLE
    mask, source = bicycle_mask(box, th, ids, GROUP_IDS['bicycle'], None, RIDER)
    assert source == 'teacher+thermal'
    assert mask.sum() == 50 * 15 + (96 - 80) * 31 - (90 - 80) * 15


def test_compose_paints_a_cyclist_as_bicycle_and_a_boxed_person_as_person():
    th = _scene()
    th[40:90, 20:35] = 200  # a second warm blob, a pedestrian with its own box
    boxes = [Box('bicycle', 62, 34, 93, 96), Box('person', 12, 34, 43, 96)]
    label, sources = compose_label(th.shape, th, None, boxes, LabelRule(mask=RIDER))
    assert sources == {'bicycle:thermal': 1, 'person:thermal': 1}
    assert (label[40:90, 70:85] == BICYCLE).all() and (label[40:90, 20:35] == PERSON).all()
    label, sources = compose_label(th.shape, th, None, boxes)  # the default rule
    assert sources == {'bicycle:none': 1, 'person:thermal': 1}
    assert not (label == BICYCLE).any()


def test_night_car_box_takes_the_max_luminance_teachers_mask_else_its_core():
    h, w = 100, 120
    th = np.full((h, w), 40, np.uint8)
    ids = np.full((h, w), ROAD, np.uint8)
    ids[30:70, 20:100] = CAR      # inside the box
    ids[80:95, 0:20] = CAR        # an invented car outside every box: never used
    box = Box('car', 10, 20, 110, 70)
    rule = LabelRule(night_car_teacher='espnetv2')
    label, sources = compose_label((h, w), th, None, [box], rule, [_teacher(ids)])
    assert sources == {'car:max-luminance teacher': 1}
    assert (label == CAR).sum() == 40 * 80
    assert label[85, 5] == BACKGROUND_ANY
    # a teacher that sees too little car in the box: the core, as without it
    few = np.full((h, w), ROAD, np.uint8)
    few[40:45, 40:50] = CAR
    label, sources = compose_label((h, w), th, None, [box], rule, [_teacher(few)])
    assert sources == {'car:core': 1} and (label == CAR).sum() == 70 * 30
    # by day the night teacher is not read
    day = [_teacher(np.full((h, w), ROAD, np.uint8))]
    _, sources = compose_label((h, w), th, day, [box], rule, [_teacher(ids)])
    assert sources == {'car:core': 1}


def test_max_luminance_keeps_the_brighter_luma_and_the_visible_chroma():
    vis = np.zeros((2, 2, 3), np.uint8)
    vis[0, 0] = (200, 30, 30)  # bright red: thermal darker, unchanged
    th = np.array([[10, 150], [0, 255]], np.uint8)
    out = max_luminance(vis, th)
    assert np.abs(out[0, 0].astype(int) - vis[0, 0]).max() <= 2
    assert np.abs(out[0, 1].astype(int) - 150).max() <= 2  # grey: luma from thermal
    assert (out[1, 0] == 0).all() and (out[1, 1] >= 253).all()


def test_is_day_from_name_tag_or_brightness():
    dark = np.zeros((4, 4, 3), np.uint8)
    bright = np.full((4, 4, 3), 120, np.uint8)
    assert is_day('00055D', dark) and not is_day('00004N', bright)
    assert is_day('FLIR_00211', bright) and not is_day('FLIR_00211', dark)


def test_partial_label_ce_by_hand():
    # 3 classes, 2 pixels: one labelled 0, one "any of {1, 2}" (254)
    logits = torch.tensor([[[[2.0, 0.0]], [[1.0, 1.0]], [[0.0, 3.0]]]])  # (1, 3, 1, 2)
    label = torch.tensor([[[0, BACKGROUND_ANY]]])
    allowed = torch.tensor([False, True, True])
    got = partial_label_ce(logits, label, {BACKGROUND_ANY: allowed})
    lz0 = math.log(math.exp(2) + math.exp(1) + 1)
    lz1 = math.log(1 + math.exp(1) + math.exp(3))
    want = ((lz0 - 2.0) + (lz1 - math.log(math.exp(1) + math.exp(3)))) / 2
    assert float(got) == pytest.approx(want, rel=1e-6)
    # weights scale the labelled pixel only
    got_w = partial_label_ce(logits, label, {BACKGROUND_ANY: allowed},
                             weights=torch.tensor([3.0, 1.0, 1.0]))
    want_w = (3 * (lz0 - 2.0) + (lz1 - math.log(math.exp(1) + math.exp(3)))) / 4
    assert float(got_w) == pytest.approx(want_w, rel=1e-6)


def test_background_any_allows_no_object_class():
    allowed = background_classes('fmb')
    assert not allowed[PERSON] and not allowed[CAR] and not allowed[class_id('bicycle')]
    assert allowed[ROAD] and allowed[SKY] and not allowed[0]
    sets = label_sets('fmb')
    assert sorted(sets) == list(range(240, 248)) and sets[BACKGROUND_ANY] == allowed
    near_person = sets[set_label(['person'])]
    assert near_person[PERSON] and near_person[ROAD] and not near_person[CAR]
    every = sets[set_label(['person', 'car', 'bicycle'])]
    assert every[class_id('truck')] and every[class_id('motorcycle')] and not every[0]
    msrs = label_sets('msrs')[set_label(['bicycle'])]
    assert msrs[class_id('bike', ('unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop',
                                  'guardrail', 'color_cone', 'bump'))]


def test_segmentation_samples_are_reproducible_and_pad_with_ignore():
    img = np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    lab = np.full((40, 50), ROAD, np.uint8)
    ds = SegmentationSamples([('a', img, lab)], Augment(crop=64, scale=(1.0, 1.0)), seed=3)
    a, b = ds[0], ds[0]
    assert torch.equal(a['image'], b['image']) and torch.equal(a['label'], b['label'])
    assert a['image'].shape == (3, 64, 64) and a['label'].shape == (64, 64)
    assert (a['label'] == IGNORE_INDEX).sum() == 64 * 64 - 40 * 50
    ds.set_epoch(1)
    assert not torch.equal(ds[0]['image'], a['image'])   # another epoch, other jitter
    plain = SegmentationSamples([('a', img, lab)], Augment(enabled=False))[0]
    assert torch.allclose(plain['image'], torch.from_numpy(img).permute(2, 0, 1) / 255.0)


def test_make_labels_on_a_tiny_set(tmp_path):
    root = tmp_path / 'set'
    for sub in ('vi', 'ir', 'labels/visible', 'labels/infrared'):
        (root / sub).mkdir(parents=True)
    th = _scene()
    cv2.imwrite(str(root / 'ir' / '00001N.png'), th)
    cv2.imwrite(str(root / 'vi' / '00001N.png'), np.zeros((120, 160, 3), np.uint8))
    # person box (62..93, 34..96) in YOLO numbers, visible and infrared agree
    line = f'0 {77.5 / 160} {65 / 120} {31 / 160} {62 / 120}\n'
    (root / 'labels/visible/00001N.txt').write_text(line)
    (root / 'labels/infrared/00001N.txt').write_text(line)
    out = tmp_path / 'labels'
    # night frames never load a teacher: no weights needed
    rc = make_main(['--boxes', str(root), '--weights', str(tmp_path), '--teachers', '',
                    '--output', str(out), '--no-progress'])
    assert rc == 0
    label = cv2.imread(str(out / 'set' / '00001N.png'), cv2.IMREAD_UNCHANGED)
    assert (label == PERSON).sum() == 50 * 15
    assert 'person:thermal' in (out / 'report.md').read_text()
    assert make_main(['--weights', str(tmp_path), '--output', str(out)]) == 2


def test_object_focus_centres_crops_on_objects():
    img = np.zeros((200, 300, 3), np.uint8)
    lab = np.full((200, 300), ROAD, np.uint8)
    lab[150:160, 280:290] = PERSON  # a small person in a corner
    focus_aug = Augment(crop=64, scale=(1.0, 1.0), object_focus=1.0)
    focus = SegmentationSamples([('a', img, lab)], focus_aug, object_ids=[PERSON])
    plain = SegmentationSamples([('a', img, lab)], Augment(crop=64, scale=(1.0, 1.0)),
                                object_ids=[PERSON])
    hits_focus = hits_plain = 0
    for epoch in range(20):
        focus.set_epoch(epoch)
        plain.set_epoch(epoch)
        hits_focus += bool((focus[0]['label'] == PERSON).any())
        hits_plain += bool((plain[0]['label'] == PERSON).any())
    assert hits_focus == 20 and hits_plain < 10


def test_one_camera_baselines_keep_both_inputs():
    from training.models.baseline_fusion import BaselineFusion

    vis, th = torch.rand(1, 3, 4, 4), torch.rand(1, 1, 4, 4)
    assert torch.equal(BaselineFusion('visible-only')(vis, th).fused, vis)
    th_nan = torch.full((1, 1, 4, 4), float('nan'))
    assert torch.equal(BaselineFusion('visible-only')(vis, th_nan).fused, vis)  # never NaN


def test_recipe_yaml_and_overrides(tmp_path):
    from training.segmenter.recipe import load_recipe

    from training.config import ConfigError

    path = tmp_path / 'r.yaml'
    path.write_text('segmenter: {variant: context, width: 8, in_channels: 4}\n'
                    'augment: {crop: 64, scale: [0.5, 2]}\nboxes_repeat: 3\n')
    r = load_recipe(path, ['segmenter.epochs=2', 'pairs=false'])
    assert (r.segmenter.width, r.segmenter.in_channels, r.segmenter.epochs) == (8, 4, 2)
    assert r.augment.scale == (0.5, 2.0) and r.boxes_repeat == 3 and r.pairs is False
    with pytest.raises(ConfigError, match='wdith'):
        load_recipe(path, ['segmenter.wdith=3'])
