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
Measure how far the label sources can be trusted, on the training part of msrs_test_dev.

    python scripts/measure_label_sources.py [--data ../shared/data] [--output out/labels]

The numbers behind training/labels/README.md: each daylight teacher's box
recall and in-box precision on the visible image by day and by night, on
the max-luminance image at night, how often the two teachers agree, and how
well the thermal person blob matches the teacher's person mask inside a
box by day. Only training names are read (config/data/msrs_test_dev_train.txt):
the validation pairs stay unseen by every choice made here.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    from evaluation.metrics.boxes import box_pixel_bounds, BoxScore, load_boxes
    from ros2_ssvif.classes import class_id, IGNORE_INDEX
    from tqdm import tqdm
    from training.data.splits import split_file
    from training.labels.compose import teacher_agreement
    from training.labels.make import cached_teacher, max_luminance
    from training.labels.object_masks import warm_blob
    from training.teachers import load_teacher

    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'))
    ap.add_argument('--weights', default=str(REPO.parent / 'shared' / 'weights'))
    ap.add_argument('--output', default=str(REPO / 'out' / 'labels'))
    args = ap.parse_args(argv)
    root = Path(args.data) / 'msrs_test_dev'
    out = Path(args.output)
    from ros2_ssvif.image_files import read_name_list
    names = read_name_list(split_file('train'))
    teachers = [load_teacher(t, args.weights) for t in ('deeplab', 'espnetv2')]
    scores = {k: BoxScore() for k in ('deeplab', 'espnetv2', 'agreed',
                                      'deeplab_maxlum', 'espnetv2_maxlum')}
    agree, conf = {'day': [], 'night': []}, {'day': [], 'night': []}
    blob_iou = []
    person = class_id('person')
    for name in tqdm(names, desc='label sources'):
        vis = cv2.cvtColor(cv2.imread(str(root / 'vi' / f'{name}.png')), cv2.COLOR_BGR2RGB)
        thr = cv2.imread(str(root / 'ir' / f'{name}.png'), cv2.IMREAD_GRAYSCALE)
        boxes = load_boxes(root, name, vis.shape[1], vis.shape[0])
        sub = 'day' if name.endswith('D') else 'night'
        outs = [cached_teacher(t, vis, out / 'teachers' / t.name / 'msrs_test_dev' / f'{name}.npz')
                for t in teachers]
        for t, o in zip(teachers, outs):
            scores[t.name].update(name, np.where(o.fmb_ids == IGNORE_INDEX, 0, o.fmb_ids)
                                  .astype(np.uint8), boxes)
        agreed = teacher_agreement(outs, 0.5)
        scores['agreed'].update(name, agreed, boxes)
        agree[sub].append(float((agreed != IGNORE_INDEX).mean()))
        conf[sub].append(float(np.mean([o.confidence.mean() for o in outs])))
        if sub == 'night':
            maxlum = max_luminance(vis, thr)
            for t in teachers:
                o = cached_teacher(t, maxlum, out / 'teachers' / t.name / 'msrs_maxlum'
                                   / f'{name}.npz')
                scores[f'{t.name}_maxlum'].update(
                    name, np.where(o.fmb_ids == IGNORE_INDEX, 0, o.fmb_ids).astype(np.uint8),
                    boxes)
        else:
            for b in boxes:
                if b.group != 'person' or b.height < 24:
                    continue
                c0, r0, c1, r1 = box_pixel_bounds(b, vis.shape[1], vis.shape[0])
                tm = outs[0].fmb_ids[r0:r1, c0:c1] == person
                blob = warm_blob(thr, b)
                if tm.mean() >= 0.2 and blob is not None:
                    blob_iou.append(float((tm & blob).sum() / max(1, (tm | blob).sum())))
    result = {
        'names': len(names),
        'scores': {k: s.summary() for k, s in scores.items()},
        'teacher_agreement_share': {k: float(np.mean(v)) for k, v in agree.items() if v},
        'mean_confidence': {k: float(np.mean(v)) for k, v in conf.items() if v},
        'person_blob_vs_deeplab_iou_median': float(np.median(blob_iou)) if blob_iou else None,
        'person_blob_boxes': len(blob_iou),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / 'label_sources.json').write_text(json.dumps(result, indent=1))
    for k, s in result['scores'].items():
        for sub in ('day', 'night'):
            g = s[sub]
            print(f"{k:18s} {sub:5s} person R {g['person']['recall_tall']:.2f} "
                  f"P {g['person']['precision']:.2f} | car R {g['car']['recall_tall']:.2f} "
                  f"P {g['car']['precision']:.2f} | bicycle R {g['bicycle']['recall_tall']:.2f} "
                  f"P {g['bicycle']['precision']:.2f}")
    print({k: v for k, v in result.items() if k != 'scores'})
    return 0


if __name__ == '__main__':
    sys.exit(main())
