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
Measure how the mask is decided (``class_bias``, ``flip_average``) on out-of-fold training pairs.

    python scripts/measure_class_bias.py [--folds dev A] [--grid -1 -0.5 0 0.5 1] \
        [--bicycle-grid 0 1 2 3] [--labels out/default_model/labels] \
        [--fusion out/default_model/fusion/best.pt] [--output out/class_bias]

For each fold (blocks of the *training* pairs held out: ``dev`` is
``training.data.splits.DEV_BLOCKS``, A and B two more), the recipe of
config/training/default_segmenter.yaml is trained on the other training pairs
(about 12 min on 2 cores, kept in OUTPUT/FOLD.pt) and its logits on the
held-out blocks are kept. Every (person, car) offset of the grid, then every
bicycle offset, re-decides those logits as the exported graph does (argmax at
the segmenter's scale + offsets, nearest upsampling) and scores them against
the boxes; then the same with the logits averaged with the mirrored image's
(``segmenter.flip_average``). The validation pairs are never read. Writes OUTPUT/sweep.json,
OUTPUT/sweep.md and OUTPUT/person_tradeoff.png (recall against precision per
person offset, day and night).
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
import sys

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'scripts'))  # build_default_model's split

FOLDS = {'dev': {'D': (3,), 'N': (4,)}, 'A': {'D': (0, 5), 'N': (0, 5)},
         'B': {'D': (1, 6), 'N': (1, 6)}}
GROUPS = ('person', 'car', 'bicycle')


def fold_logits(fold: str, args, fusion, train: list[str]) -> tuple[dict, dict]:
    """
    Logits at the segmenter's scale of one fold's held-out pairs: (plain, flip-averaged).

    Each maps name -> (C, h, w) float32.
    """
    import numpy as np
    import torch
    from training.data.splits import msrs_block_split
    from training.segmenter import load_segmenter
    from training.segmenter.recipe import load_recipe, train_recipe

    out, data = Path(args.output), Path(args.data)
    caches = out / f'{fold}_logits.npz', out / f'{fold}_flip_logits.npz'
    if all(c.is_file() for c in caches):
        return tuple(_load(c) for c in caches)
    fit, held = msrs_block_split(train, FOLDS[fold])
    ckpt = out / f'{fold}.pt'
    if not ckpt.is_file():
        torch.manual_seed(0)
        recipe = load_recipe(REPO / 'config' / 'training' / 'default_segmenter.yaml')
        train_recipe(fusion, data, Path(args.labels), recipe, ckpt, fit, progress=True)
    plain, flip = segmenter_logits(load_segmenter(ckpt), fusion, data, held)
    for cache, logits in zip(caches, (plain, flip)):
        np.savez_compressed(cache, **{n: v.astype(np.float16) for n, v in logits.items()})
    return plain, flip


def segmenter_logits(loaded, fusion, data: Path, names: list[str]) -> tuple[dict, dict]:
    """
    Logits of a loaded segmenter at its scale on ``names``: (plain, flip-averaged).

    ``loaded``: what ``load_segmenter`` returns. The input is shrunk as the
    exported graph shrinks it, so re-deciding these logits gives its mask.
    """
    import torch
    import torch.nn.functional as F
    from training.segmenter.recipe import make_inputs, recipe_pairs

    seg, cfg = loaded
    boxed, _ = recipe_pairs(data, names, False)
    inputs = make_inputs(fusion, boxed, with_thermal=cfg.in_channels == 4)
    seg.eval()
    seg.flip_average = True
    plain, flip = {}, {}
    with torch.no_grad():
        for name in names:
            x = torch.from_numpy(inputs[name]).permute(2, 0, 1)[None].float() / 255.0
            small = F.interpolate(x, scale_factor=seg.scale, mode='bilinear', align_corners=False,
                                  antialias=False, recompute_scale_factor=False)
            plain[name] = seg.model(small)[0].numpy()
            flip[name] = seg.decision_logits(small)[0].numpy()
    return plain, flip


def _load(path: Path) -> dict:
    import numpy as np

    with np.load(path) as z:
        return {n: z[n].astype(np.float32) for n in z.files}


def score(logits: dict, boxes: dict, bias: dict[str, float]) -> dict:
    """Box summary of the logits re-decided with ``bias``, as the exported graph decides."""
    import torch
    import torch.nn.functional as F
    from evaluation.metrics.boxes import BoxScore
    from ros2_ssvif.classes import FMB_CLASSES
    from training.segmenter.model import ScaledSegmenter, SegmenterConfig

    class Given(torch.nn.Module):
        num_classes = len(FMB_CLASSES)

    seg = ScaledSegmenter(Given(), 0.5, SegmenterConfig(class_bias=bias or None).bias_vector())
    s = BoxScore()
    for name, lg in logits.items():
        ids = seg.decide(torch.from_numpy(lg)[None], keepdim=True).float()
        h, w = 2 * lg.shape[1], 2 * lg.shape[2]
        s.update(name, F.interpolate(ids, size=(h, w), mode='nearest')[0, 0].byte().numpy(),
                 boxes[name])
    return s.summary()


def row(bias: dict, summary: dict) -> dict:
    r = {'bias': bias}
    for sub in ('day', 'night'):
        for g in GROUPS:
            d = summary[sub][g]
            r[f'{g} {sub}'] = [d['recall_tall'], d['precision']]
    return r


def fmt(v) -> str:
    return '–' if v is None or v != v else f'{v:.2f}'


def main(argv=None) -> int:
    from build_default_model import msrs_split
    from evaluation.metrics.boxes import load_boxes
    from training.checkpoint import load_fusion_model

    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--folds', nargs='+', default=['dev', 'A'], choices=sorted(FOLDS))
    ap.add_argument('--grid', nargs='+', type=float, default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    ap.add_argument('--bicycle-grid', nargs='+', type=float, default=[0.0, 1.0, 2.0, 3.0])
    ap.add_argument('--labels', default=str(REPO / 'out' / 'default_model' / 'labels'))
    ap.add_argument('--fusion', default=str(REPO / 'out' / 'default_model' / 'fusion' / 'best.pt'))
    ap.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'))
    ap.add_argument('--output', default=str(REPO / 'out' / 'class_bias'))
    args = ap.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    fusion, _ = load_fusion_model(Path(args.fusion))
    train = msrs_split(smoke=False)[0]
    logits, flipped = {}, {}
    for fold in args.folds:
        plain, flip = fold_logits(fold, args, fusion, train)
        logits.update(plain)
        flipped.update(flip)
    root = Path(args.data) / 'msrs_test_dev'
    boxes = {n: load_boxes(root, n, 2 * v.shape[2], 2 * v.shape[1]) for n, v in logits.items()}
    rows = [row({'person': p, 'car': c}, score(logits, boxes, {'person': p, 'car': c}))
            for p, c in itertools.product(args.grid, args.grid)]
    rows += [row({'bicycle': b}, score(logits, boxes, {'bicycle': b}))
             for b in args.bicycle_grid if b]
    rows += [{**row({'person': p}, score(flipped, boxes, {'person': p})), 'flip_average': True}
             for p in args.grid]
    (out / 'sweep.json').write_text(json.dumps({'folds': args.folds, 'pairs': sorted(logits),
                                                'rows': rows}, indent=1))
    head = ['offsets'] + [f'{g} {s} R / P' for s in ('day', 'night') for g in GROUPS]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [', '.join(f'{k} {v:+.1f}' for k, v in r['bias'].items())
                 + (', flip average' if r.get('flip_average') else '')]
        cells += [f'{fmt(r[f"{g} {s}"][0])} / {fmt(r[f"{g} {s}"][1])}'
                  for s in ('day', 'night') for g in GROUPS]
        lines.append('| ' + ' | '.join(cells) + ' |')
    (out / 'sweep.md').write_text(
        f'Out-of-fold training pairs ({len(logits)}: folds {", ".join(args.folds)}); '
        'R = recall of '
        'boxes >= 24 px, P = pixel precision (evaluation/metrics/boxes.py).\n\n'
        + '\n'.join(lines) + '\n')
    plot(rows, out / 'person_tradeoff.png')
    print('\n'.join(lines))
    return 0


def plot(rows: list[dict], path: Path) -> None:
    """Recall against precision of person and car, one point per offset of that class."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, group, other in ((axes[0], 'person', 'car'), (axes[1], 'car', 'person')):
        for sub, colour in (('day', 'tab:orange'), ('night', 'tab:blue')):
            pts = sorted((r['bias'][group], *r[f'{group} {sub}']) for r in rows
                         if group in r['bias'] and r['bias'].get(other) == 0.0
                         and not r.get('flip_average'))
            pts = [p for p in pts if p[1] is not None and p[2] is not None]
            ax.plot([p[2] for p in pts], [p[1] for p in pts], 'o-', color=colour, label=sub)
            for b, rec, prec in pts:
                ax.annotate(f'{b:+.1f}', (prec, rec), fontsize=7, xytext=(3, 3),
                            textcoords='offset points')
        for sub, colour in (('day', 'tab:orange'), ('night', 'tab:blue')):
            flip = sorted((r['bias'][group], *r[f'{group} {sub}']) for r in rows
                          if r.get('flip_average') and group in r['bias'])
            flip = [p for p in flip if p[1] is not None and p[2] is not None]
            if flip:
                ax.plot([p[2] for p in flip], [p[1] for p in flip], 's:', color=colour,
                        label=f'{sub}, flip average')
        ax.axhline(0.6, color='grey', lw=0.8, ls='--')
        ax.axvline(0.75, color='grey', lw=0.8, ls='--')
        ax.set(xlabel='pixel precision', ylabel='recall (boxes >= 24 px)',
               title=f'{group}: one point per {group} offset', xlim=(0, 1), ylim=(0, 1))
        ax.legend()
    fig.suptitle('Operating point on out-of-fold MSRS training pairs (targets dashed)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == '__main__':
    sys.exit(main())
