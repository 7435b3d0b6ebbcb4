#!/usr/bin/env python3

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
Compare segmenter recipes on out-of-fold training pairs, seeds x folds, with their fit.

    python scripts/measure_recipe_folds.py NAME [--set segmenter.epochs=80 ...] \
        [--folds dev A] [--seeds 0 1] [--threads 1] [--parallel 2] \
        [--output out/recipe_folds]

For every seed and fold (blocks of the *training* pairs held out, the folds
of scripts/measure_class_bias.py), config/training/default_segmenter.yaml
with ``--set`` is trained on the other training pairs in a fresh process
(``training.segmenter.isolated``: the same seed, thread count and data give
the same weights) and its flip-averaged logits are kept for two sets of pairs:

* **out of fold**: the held-out blocks, which it never saw: what a design
  is chosen on;
* **in fold**: the next fold's blocks, which it trained on: how well the
  recipe fits its own labels. A recipe that misses its targets on pairs it
  trained on is underfitting, and no label or threshold fixes that.

Writes OUTPUT/NAME/s{SEED}/{FOLD}.pt and the logits, OUTPUT/NAME/summary.json
and OUTPUT/compare.md (every NAME measured so far: mean and range over seeds
of the boxes pooled over the folds, and where the false car pixels of day
pairs lie by their training label). The validation pairs are never read.
One 40-epoch training takes ~12 min on 2 threads, ~25 min on 1.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
from pathlib import Path
import sys

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'scripts'))  # the folds and the re-decision of measure_class_bias

GROUPS = ('person', 'car')
CAR_CLASSES = ('car', 'truck', 'bus')


def in_fold_of(fold: str, folds: list[str]) -> str:
    """Return the fold whose blocks ``fold``'s model trained on (its in-fold score)."""
    return next(f for f in folds if f != fold)


def train_one(args, seed: int, fold: str, train: list[str]) -> Path:
    """Train (or reuse) one fold's segmenter in a fresh process; return its checkpoint."""
    from measure_class_bias import FOLDS
    from training.data.splits import msrs_block_split
    from training.segmenter.isolated import train_recipe_isolated

    ckpt = Path(args.output) / args.name / f's{seed}' / f'{fold}.pt'
    if not ckpt.is_file():
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        fit, _ = msrs_block_split(train, FOLDS[fold])
        train_recipe_isolated(('fusion', args.fusion),
                              REPO / 'config' / 'training' / 'default_segmenter.yaml',
                              [*args.set, f'segmenter.seed={seed}'], args.data, args.labels, fit,
                              ckpt, threads=args.threads)
    return ckpt


def held_logits(ckpt: Path, names: list[str], data: Path, fusion, cache: Path) -> dict:
    """Flip-averaged logits at the segmenter's scale of ``names`` (cached in ``cache``)."""
    import numpy as np
    from measure_class_bias import _load, segmenter_logits
    from training.segmenter import load_segmenter

    if cache.is_file():
        return _load(cache)
    flip = segmenter_logits(load_segmenter(ckpt), fusion, data, names)[1]
    np.savez_compressed(cache, **{n: v.astype(np.float16) for n, v in flip.items()})
    return flip


def false_car_sources(logits: dict, boxes: dict, label_root: Path) -> dict[str, float]:
    """Day pairs: share of predicted car pixels outside every car box, by their training label."""
    import cv2
    import numpy as np
    from evaluation.metrics.boxes import box_pixel_mask
    from ros2_ssvif.classes import FMB_CLASSES, class_id

    car = [class_id(c) for c in CAR_CLASSES]
    counts: dict[str, int] = {}
    predicted = 0
    for name, lg in logits.items():
        if not name.endswith('D'):
            continue
        h, w = 2 * lg.shape[1], 2 * lg.shape[2]
        ids = cv2.resize(lg.argmax(0).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        is_car = np.isin(ids, car)
        cars = [b for b in boxes[name] if b.group == 'car']
        false = is_car & ~box_pixel_mask(cars, (h, w), enlarge=0.15)
        label = cv2.imread(str(label_root / 'msrs_test_dev' / f'{name}.png'),
                           cv2.IMREAD_UNCHANGED)
        predicted += int(is_car.sum())
        for value in np.unique(label[false]):
            key = (FMB_CLASSES[value] if value < len(FMB_CLASSES)
                   else 'no object' if value == 240 else 'ignored' if value == 255
                   else 'object set')
            counts[key] = counts.get(key, 0) + int((false & (label == value)).sum())
    return {k: v / max(predicted, 1) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def summarise(args, seed: int, ckpts: dict, train: list[str], fusion) -> dict:
    """Out-of-fold and in-fold box scores of one seed, pooled over its folds."""
    from measure_class_bias import FOLDS, score
    from evaluation.metrics.boxes import load_boxes
    from training.data.splits import msrs_block_split

    root = Path(args.data) / 'msrs_test_dev'
    pooled = {'out of fold': {}, 'in fold': {}}
    for fold, ckpt in ckpts.items():
        held = msrs_block_split(train, FOLDS[fold])[1]
        seen = msrs_block_split(train, FOLDS[in_fold_of(fold, args.folds)])[1]
        pooled['out of fold'].update(held_logits(ckpt, held, root.parent, fusion,
                                                 ckpt.with_name(f'{fold}_held.npz')))
        # keys may repeat across folds' in-fold sets: keep them apart
        for n, v in held_logits(ckpt, seen, root.parent, fusion,
                                ckpt.with_name(f'{fold}_seen.npz')).items():
            pooled['in fold'][f'{fold}/{n}'] = v
    result = {}
    for part, logits in pooled.items():
        boxes = {n: load_boxes(root, n.split('/')[-1], 2 * v.shape[2], 2 * v.shape[1])
                 for n, v in logits.items()}
        s = score(logits, boxes, {})
        result[part] = {f'{g} {sub}': [s[sub][g]['recall_tall'], s[sub][g]['precision']]
                        for sub in ('day', 'night') for g in GROUPS}
        if part == 'out of fold':
            result['false car (day)'] = false_car_sources(logits, boxes, Path(args.labels))
    return result


def fmt_range(values: list) -> str:
    vals = [v for v in values if v is not None and v == v]
    if not vals:
        return '–'
    mean = sum(vals) / len(vals)
    return f'{mean:.2f}' if len(vals) == 1 else f'{mean:.2f} ({min(vals):.2f}–{max(vals):.2f})'


def write_compare(out: Path) -> str:
    """OUTPUT/compare.md: every run's mean (range over seeds) per part, group and subset."""
    keys = [f'{g} {sub}' for sub in ('day', 'night') for g in GROUPS]
    lines = ['| recipe (seeds) | pairs | ' + ' | '.join(f'{k} R / P' for k in keys) + ' |',
             '|---|---|' + '---|' * len(keys)]
    false_lines = []
    for summary in sorted(out.glob('*/summary.json')):
        run = json.loads(summary.read_text())
        seeds = run['seeds']
        recipe = ' '.join(run['set']) or 'the shipped recipe'
        label = f'{summary.parent.name}: {recipe} ({len(seeds)})'
        for part in ('out of fold', 'in fold'):
            cells = []
            for k in keys:
                r = fmt_range([seeds[s][part][k][0] for s in seeds])
                p = fmt_range([seeds[s][part][k][1] for s in seeds])
                cells.append(f'{r} / {p}')
            lines.append(f'| {label} | {part} | ' + ' | '.join(cells) + ' |')
        shares: dict[str, list] = {}
        for s in seeds.values():
            for k, v in s['false car (day)'].items():
                shares.setdefault(k, []).append(v)
        top = sorted(shares.items(), key=lambda kv: -sum(kv[1]))[:5]
        false_lines.append(f'| {summary.parent.name} | ' + ', '.join(
            f'{k} {sum(v) / len(seeds):.2f}' for k, v in top) + ' |')
    text = ('Out-of-fold and in-fold training pairs (scripts/measure_recipe_folds.py); '
            'R = recall of boxes >= 24 px, P = pixel precision; mean over seeds (range).\n\n'
            + '\n'.join(lines) + '\n\nPredicted car pixels of out-of-fold day pairs that lie '
            'outside every car box, as a share of all predicted car pixels, by the training '
            'label under them:\n\n| recipe | share (label) |\n|---|---|\n'
            + '\n'.join(false_lines) + '\n')
    (out / 'compare.md').write_text(text)
    plot_compare(out, out / 'compare.png')
    return text


def plot_compare(out: Path, path: Path) -> None:
    """Recall against precision per group and subset: a dot per seed, hollow when in fold."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    keys = [f'{g} {sub}' for sub in ('day', 'night') for g in GROUPS]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 4.2))
    runs = sorted(out.glob('*/summary.json'))
    for colour, summary in zip(plt.rcParams['axes.prop_cycle'].by_key()['color'] * 4, runs):
        seeds = json.loads(summary.read_text())['seeds']
        for ax, key in zip(axes, keys):
            for part, face in (('out of fold', colour), ('in fold', 'none')):
                pts = [seeds[s][part][key] for s in seeds]
                pts = [(r, p) for r, p in pts if r is not None and p is not None]
                ax.scatter([p for _, p in pts], [r for r, _ in pts], s=40, facecolors=face,
                           edgecolors=colour, label=f'{summary.parent.name}, {part}')
    for ax, key in zip(axes, keys):
        ax.axhline(0.6, color='grey', lw=0.8, ls='--')
        ax.axvline(0.75, color='grey', lw=0.8, ls='--')
        ax.set(xlabel='pixel precision', ylabel='recall (boxes >= 24 px)', title=key,
               xlim=(0, 1), ylim=(0, 1))
    axes[0].legend(fontsize=7, loc='lower left')
    fig.suptitle('Segmenter recipes on MSRS training pairs, one dot per seed '
                 '(filled: held out, hollow: trained on; issue-16 targets dashed)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    from build_default_model import msrs_split
    from measure_class_bias import FOLDS
    from training.checkpoint import load_fusion_model

    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('name', help='the run (a folder under --output)')
    ap.add_argument('--set', action='append', default=[],
                    help='a recipe override (segmenter.epochs=80), repeatable')
    ap.add_argument('--folds', nargs='+', default=['dev', 'A'], choices=sorted(FOLDS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[0])
    ap.add_argument('--threads', type=int, default=2, help='per training process')
    ap.add_argument('--parallel', type=int, default=1, help='trainings at once')
    ap.add_argument('--labels', default=str(REPO / 'out' / 'default_model' / 'labels'))
    ap.add_argument('--fusion', default=str(REPO / 'out' / 'default_model' / 'fusion' / 'best.pt'))
    ap.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'))
    ap.add_argument('--output', default=str(REPO / 'out' / 'recipe_folds'))
    args = ap.parse_args(argv)
    if len(args.folds) < 2:
        ap.error('--folds: at least two (each model is scored in fold on another one)')
    out = Path(args.output)
    train = msrs_split(smoke=False)[0]
    jobs = [(s, f) for s in args.seeds for f in args.folds]
    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        ckpts = dict(zip(jobs, pool.map(lambda j: train_one(args, j[0], j[1], train), jobs)))
    fusion, _ = load_fusion_model(Path(args.fusion))
    summary_path = out / args.name / 'summary.json'
    old = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if old and old.get('set') != args.set:
        ap.error(f'{summary_path}: measured with --set {old.get("set")}; use another NAME')
    seeds = old.get('seeds', {})
    for seed in args.seeds:
        seeds[str(seed)] = summarise(args, seed, {f: ckpts[(seed, f)] for f in args.folds},
                                     train, fusion)
    summary_path.write_text(json.dumps({'set': args.set, 'folds': args.folds,
                                        'threads': args.threads, 'seeds': seeds}, indent=1))
    print(write_compare(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
