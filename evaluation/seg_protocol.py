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
``compare_segmentation``: the SSVIF segmentation protocol (Table I, Appendix A-B).

    compare_segmentation --data-root DIR --data-kind fmb|msrs|synthetic_folder
                         --method NAME=CKPT.pt [--method ...] [--baselines] --output DIR
                         [--set KEY=VALUE ...] [--test-split test] [--test-fraction 0.2]

Fusion quality is judged by what it is for: the same segmenter (same
:class:`training.segmenter.SegmenterConfig`, same seed, so the same initial
weights and batch order) is trained from scratch on the fused images of each
method and scored on held-out images; only the fusion differs, so the mIoU
gap is the fusion's. ``--baselines`` adds visible-only, thermal-only,
average and per-pixel max, the trivial fusions every method should beat.

Splits: the training split is divided 9:1 into train / validation (early
stopping, as in the paper); the test split is ``--test-split`` (fmb/msrs) or,
for ``synthetic_folder`` (which has no splits), a seeded ``--test-fraction``
of its images. Writes ``OUTPUT/miou.csv`` (method, class, IoU; one ``mIoU``
row per method) and ``OUTPUT/summary.md`` (methods as rows, mIoU last; best
**bold**, second <u>underlined</u>).

The default config is the paper's (SegFormer-B3, 80 epochs, batch 12, crop
512, encoder frozen for 30 epochs). Nothing is downloaded: with a checkpoint
of your own pass ``--set init_checkpoint=PATH`` (a Hugging Face SegFormer
folder, or a MiT-named state dict such as SegMiF's), which every method's
segmenter then starts from; without one the encoder starts random, so pass
``--set freeze_epochs=0``; on a CPU pass ``--set variant=compact --set
epochs=...``. Bad input prints one line to stderr and exits with 2.
"""
from __future__ import annotations

import argparse
import csv
from dataclasses import replace
import math
from pathlib import Path
import sys
from typing import Mapping, Sequence

from evaluation.compare import parse_method, rank_marks, table_cell
from evaluation.io import InputError
from evaluation.metrics.segmentation import SegmentationScore
from ros2_ssvif.cli import add_set_argument, run_command
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from training.models.baseline_fusion import baseline_modules, BaselineFusion


__all__ = [
    'DATA_KINDS',
    'BaselineFusion',
    'baseline_modules',
    'run_protocol',
    'load_splits',
    'write_reports',
    'main',
]

DATA_KINDS = ('fmb', 'msrs', 'synthetic_folder')


def run_protocol(
    methods: Mapping[str, torch.nn.Module],
    train_set: Dataset,
    val_set: Dataset | None,
    test_set: Dataset,
    cfg,
    class_set: str,
    progress: bool = True,
) -> dict[str, SegmentationScore]:
    """
    Train one fresh segmenter per method with the same ``cfg``; score each on ``test_set``.

    ``cfg.class_set`` is set to ``class_set`` so the segmenter's outputs and
    the score use the same classes.
    """
    from tqdm import tqdm
    from training.segmenter import evaluate, FusedBatches, train_segmenter

    if not methods:
        raise ValueError('no fusion method to compare')
    if len(train_set) == 0 or len(test_set) == 0:
        raise ValueError(
            f'need training and test images, got {len(train_set)} and {len(test_set)}'
        )
    cfg = replace(cfg, class_set=class_set)
    scores = {}
    for name, fusion in tqdm(
        methods.items(), desc='compare_segmentation', unit='method', disable=not progress
    ):
        res = train_segmenter(fusion, train_set, val_set, cfg, progress=progress)
        scores[name] = evaluate(
            res.model, FusedBatches(fusion), DataLoader(test_set, batch_size=1), class_set
        )
    return scores


def load_splits(kind: str, root: str | Path, seed: int, test_split: str = 'test',
                test_fraction: float = 0.2) -> tuple[Dataset, Dataset, Dataset]:
    """
    Load the (train, val, test) splits.

    9:1 train/val of the training images; test from ``test_split`` or a seeded fraction.
    """
    from training.data.pairs import LabelledPairs, split_pairs

    if kind not in DATA_KINDS:
        raise InputError(f"unknown --data-kind {kind!r}; choose from {', '.join(DATA_KINDS)}")
    if kind == 'synthetic_folder':  # no splits on disk: hold out a fraction for the test
        if not 0.0 < test_fraction < 1.0:
            raise InputError(f'--test-fraction must be in (0, 1), got {test_fraction}')
        data = test_data = LabelledPairs.from_layout(kind, root)
        rest, test_idx = split_pairs(list(range(len(data))), test_fraction, seed=seed)
    else:
        data = LabelledPairs.from_layout(kind, root, 'train')
        test_data = LabelledPairs.from_layout(kind, root, test_split)
        rest, test_idx = list(range(len(data))), list(range(len(test_data)))
    tr, va = split_pairs(rest, 0.1, seed=seed)
    return Subset(data, tr), Subset(data, va), Subset(test_data, test_idx)


def _scored_classes(scores: Mapping[str, SegmentationScore]) -> list[str]:
    """
    Return the classes with an IoU for some method.

    The others are NaN everywhere and do not enter mIoU.
    """
    first = next(iter(scores.values()))
    ious = [s.per_class_iou() for s in scores.values()]
    return [c for c in first.classes if any(not math.isnan(i[c]) for i in ious)]


def write_reports(
    scores: Mapping[str, SegmentationScore],
    output: str | Path,
    sources: Mapping[str, str] | None = None,
    n_test: int | None = None,
) -> tuple[Path, Path]:
    """miou.csv and summary.md in ``output``."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    classes = _scored_classes(scores)
    ious = {m: s.per_class_iou() for m, s in scores.items()}
    mious = {m: s.miou() for m, s in scores.items()}
    csv_path = out / 'miou.csv'
    with csv_path.open('w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['method', 'class', 'IoU'])
        for m in scores:
            w.writerows([m, c, f'{ious[m][c]:.6f}'] for c in classes)
            w.writerow([m, 'mIoU', f'{mious[m]:.6f}'])
    columns = {c: {m: ious[m][c] for m in scores} for c in classes}
    columns['mIoU'] = mious
    # rank what the reader sees: values equal to 4 decimals share a mark (as compare_fusion does)
    marks = {k: rank_marks({m: round(v, 4) for m, v in col.items()}) for k, col in columns.items()}
    lines = [
        "Per-class IoU of the same segmenter trained on each method's fused images"
        + (f', scored on {n_test} test image(s)' if n_test is not None else '')
        + '. **Bold**: best, <u>underlined</u>: second best. '
        'Classes in no label and no prediction are '
        'left out (they do not enter mIoU either).',
        '',
    ]
    if sources:
        lines += [f'- {m}: `{s}`' for m, s in sources.items()] + ['']
    lines += ['| Method | ' + ' | '.join(columns) + ' |', '|---|' + '---:|' * len(columns)]
    for m in scores:
        lines.append(
            f'| {m} | '
            + ' | '.join(table_cell(col[m], marks[k][m]) for k, col in columns.items())
            + ' |'
        )
    md_path = out / 'summary.md'
    md_path.write_text('\n'.join(lines) + '\n')
    return csv_path, md_path


def _config(sets: Sequence[str], data_kind: str):
    """
    Build a SegmenterConfig from ``--set KEY=VALUE`` items.

    Parsed as ``ssvif_train_segmenter`` does.
    """
    from training.segmenter import config_from_sets

    try:
        return config_from_sets(sets, data_kind)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='compare_segmentation',
                                description=__doc__.strip().splitlines()[0])
    p.add_argument('--data-root', required=True, help='labelled dataset root')
    p.add_argument(
        '--data-kind', default='fmb', help=f'dataset layout: {", ".join(DATA_KINDS)} (default fmb)'
    )
    p.add_argument('--method', action='append', default=[], metavar='NAME=CKPT.pt',
                   help='an ssvif_train checkpoint (repeatable)')
    p.add_argument(
        '--baselines', action='store_true', help='add visible-only, thermal-only, average, max'
    )
    p.add_argument('--output', required=True, help='report folder (miou.csv, summary.md)')
    add_set_argument(p, "override a SegmenterConfig field (default: the paper's b3 setup)",
                     dest='set')
    p.add_argument(
        '--test-split', default='test', help='fmb/msrs split to score on (default test)'
    )
    p.add_argument(
        '--test-fraction',
        type=float,
        default=0.2,
        help='synthetic_folder: seeded fraction of the images held out for the test (default 0.2)',
    )
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command('compare_segmentation', lambda: _compare(args),
                       errors=(TypeError, FloatingPointError))


def _compare(args) -> int:
    from training.checkpoint import load_fusion_model

    if args.data_kind not in DATA_KINDS:
        raise InputError(
            f'unknown --data-kind {args.data_kind!r}; choose from {", ".join(DATA_KINDS)}'
        )
    cfg = _config(args.set, args.data_kind)
    methods: dict[str, torch.nn.Module] = {}
    sources: dict[str, str] = {}
    for name, src in (parse_method(t) for t in args.method):
        if name in methods:
            raise InputError(f'method name used twice: {name}')
        methods[name], _ = load_fusion_model(src)
        sources[name] = src
    if args.baselines:
        for name, module in baseline_modules().items():
            if name in methods:
                raise InputError(f"method name {name!r} is also a baseline's")
            methods[name], sources[name] = module, 'baseline'
    if not methods:
        raise InputError('nothing to compare: give --method NAME=CKPT.pt and/or --baselines')
    train, val, test = load_splits(args.data_kind, args.data_root, cfg.seed, args.test_split,
                                   args.test_fraction)
    scores = run_protocol(
        methods, train, val, test, cfg, cfg.class_set, progress=not args.no_progress
    )
    write_reports(scores, args.output, sources, len(test))
    print(
        f'compare_segmentation: {len(scores)} method(s), '
        f'{len(train)} train / {len(val)} val / {len(test)} test '
        f'image(s); report in {args.output} (miou.csv, summary.md)'
    )
    for m, s in scores.items():
        print(f'{m:<14} mIoU {s.miou():.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
