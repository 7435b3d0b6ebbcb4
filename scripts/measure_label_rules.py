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
Compare label rules by what the shipped segmenter recipe learns from them, on the dev pairs.

    python scripts/measure_label_rules.py NAME [--rider-as-bicycle] \
        [--night-car-teacher espnetv2] [--fusion out/default_model/fusion/best.pt] \
        [--output out/label_rules] [--set segmenter.scale=0.75 ...]

Labels every MSRS training pair (and RoadScene's) with the chosen rules
(training/labels/), trains config/training/default_segmenter.yaml on the
fused images of the training pairs *minus* the dev blocks
(``training.data.splits.DEV_BLOCKS``: 8 day + 8 night pairs), and scores the
dev pairs against their boxes. The validation pairs are never read: this is
where label rules are chosen, before a rebuild scores the val pairs once.
Writes ``OUTPUT/NAME/dev.json`` (``OUTPUT/NAME/labels/report.md``: which source
outlined each box) and prints one line per group. About 40 min
on 2 cores (one recipe training); the teachers' answers are cached in
``OUTPUT/teachers`` (``--teacher-cache`` reuses a build's cache).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'scripts'))  # build_default_model's label step


def main(argv=None) -> int:
    from build_default_model import make_training_labels, msrs_split
    import torch
    from training.checkpoint import load_fusion_model
    from training.data.splits import DEV_BLOCKS, msrs_block_split
    from training.labels.compose import LabelRule
    from training.labels.object_masks import MaskRule
    from training.segmenter import load_segmenter
    from training.segmenter.recipe import (box_score, load_recipe, make_inputs, recipe_pairs,
                                           train_recipe)

    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('name', help='the run (a folder under --output)')
    ap.add_argument('--rider-as-bicycle', action='store_true')
    ap.add_argument('--night-car-teacher', default=None, choices=('espnetv2', 'deeplab'))
    ap.add_argument('--fusion', default=str(REPO / 'out' / 'default_model' / 'fusion' / 'best.pt'))
    ap.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'))
    ap.add_argument('--weights', default=str(REPO.parent / 'shared' / 'weights'))
    ap.add_argument('--output', default=str(REPO / 'out' / 'label_rules'))
    ap.add_argument('--teacher-cache', default=None,
                    help="a labels/teachers folder of an earlier run (e.g. the build's)")
    ap.add_argument('--set', nargs='*', default=[], help='recipe overrides (key=value)')
    args = ap.parse_args(argv)
    data, out = Path(args.data), Path(args.output) / args.name
    train = msrs_split(smoke=False)[0]
    fit, dev = msrs_block_split(train, DEV_BLOCKS)
    rule = LabelRule(mask=MaskRule(rider_as_bicycle=args.rider_as_bicycle),
                     night_car_teacher=args.night_car_teacher)
    labels = out / 'labels'
    labels.mkdir(parents=True, exist_ok=True)
    if args.teacher_cache and not (labels / 'teachers').exists():
        (labels / 'teachers').symlink_to(Path(args.teacher_cache).resolve())
    make_training_labels(data, Path(args.weights), out, train, progress=True, rule=rule)
    fusion, _ = load_fusion_model(Path(args.fusion))
    torch.manual_seed(0)
    recipe = load_recipe(REPO / 'config' / 'training' / 'default_segmenter.yaml', args.set)
    train_recipe(fusion, data, labels, recipe, out / 'segmenter.pt', fit)
    seg, _ = load_segmenter(out / 'segmenter.pt')
    boxed, _ = recipe_pairs(data, dev, False)
    inputs = make_inputs(fusion, boxed, with_thermal=recipe.segmenter.in_channels == 4)
    summary = box_score(seg, inputs, dev, data / 'msrs_test_dev').summary()
    (out / 'dev.json').write_text(json.dumps(summary, indent=1, default=float))
    for sub in ('day', 'night'):
        for group in ('person', 'car', 'bicycle'):
            g = summary[sub][group]
            print(f"{sub} {group}: recall >= 24 px {g['found_tall']}/{g['boxes_tall']}, "
                  f"precision {g['precision']:.2f} of {g['predicted_pixels']} px")
    return 0


if __name__ == '__main__':
    sys.exit(main())
