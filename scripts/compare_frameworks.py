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
Compare training frameworks at CPU scale: SSVIF, MultiTaskVIF, SegMiF, Table III's Originals.

    nice .venv/bin/python scripts/compare_frameworks.py [--output out/compare_frameworks]
                                                        [--summary docs/results/frameworks_cpu]

1. data: labelled synthetic captures registered with the simulated rig's
   true calibration, thermal written 8-bit (train and test sets; the only
   labels this project can make, so every mIoU here comes from synthetic
   labels);
2. training: one run per row, every row on the same data, crops, batch,
   steps and learning rate, at reduced widths (``CPU_BACKBONES``); only the
   framework (and the backbone of the Exp. i pairs) differs;
3. ``compare_fusion`` on the test images (fusion metrics) and the
   segmentation protocol of ``compare_segmentation`` (the same compact
   segmenter trained on each row's fused training images, mIoU on the test
   images), plus the four one-line baselines;
4. parameters and MACs of every network at the papers' widths (256x256
   and 640x480), and the loss curves of the runs.

``--summary`` receives README.md and the plots (no third-party image: the
pictures are of synthetic scenes). The default budget runs in about half an
hour on 2 CPU cores; ``--smoke`` is the same pipeline at toy sizes.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import sys
import time


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CPU_BACKBONES = {  # reduced widths: the networks' structure at a CPU budget
    'swinfusion': '{embed_dim: 16, num_heads: 2, window_size: 8, ex_depth: 1, '
                  'fusion_depths: [1], re_depth: 1}',
    'emma': '{widths: [4, 8, 8, 8], heads: 2}',
    'seafusion': '{widths: [8, 16, 16]}',
    'segmif': '{semantic: segformer, segformer: tiny, num_classes: 15, width: 8, growth: 8, '
              'layers: 3, heads: 2}',
}
ROWS = {  # name -> (config file, overrides)
    'SSVIF (SwinF.)': ('ssvif.yaml', ['model.backbone=swinfusion']),
    'SSVIF (EMMA)': ('ssvif.yaml', ['model.backbone=emma']),
    'SSVIF (SeAF.)': ('ssvif.yaml', ['model.backbone=seafusion']),
    'Original SwinF.': ('original_swinfusion.yaml', []),
    'Original EMMA': (
        'original_emma.yaml',
        [
            'framework_options={sensing_epochs: PHASE1, sensing_width: 8, '
            'sensing_depth: 3, shifts: 1, rotations: 1, flips: 1}'
        ],
    ),
    'Original SeAF.': (
        'original_seafusion.yaml',
        ['framework_options={fusion_steps: STEPS, seg_steps: STEPS}'],
    ),
    'MultiTaskVIF I (SwinF.)': (
        'multitaskvif.yaml',
        ['model.decoder_kwargs={width: 16, heads: 2}'],
    ),
    'SegMiF': (
        'segmif.yaml',
        # one round = two epochs; no 3k-step warm-up (longer than the whole budget)
        ['framework_options={fusion_steps: STEPS, seg_steps: STEPS, seg_lr: 1.0e-3, '
         'rounds: ROUNDS, seg_warmup_steps: 0}'],
    ),
}
BUDGET = {
    'captures': (24, 6),
    'epochs': 12,
    'steps': 8,
    'crop': 64,
    'batch': 4,
    'seg': {
        'variant': 'compact',
        'epochs': 6,
        'batch_size': 4,
        'freeze_epochs': 0,
        'lr': 3e-3,
        'crop': 128,
        'max_steps_per_epoch': 6,
        'patience': 6,
        'scale': 0.5,
    },
}
SMOKE = {
    'captures': (6, 3),
    'epochs': 3,
    'steps': 1,
    'crop': 64,
    'batch': 2,
    'seg': {
        'variant': 'compact',
        'epochs': 1,
        'batch_size': 2,
        'freeze_epochs': 0,
        'lr': 3e-3,
        'crop': 64,
        'max_steps_per_epoch': 2,
        'patience': 2,
        'scale': 0.5,
    },
}


def synthetic_sets(out: Path, sizes: tuple[int, int]) -> dict[str, Path]:
    from calibration.register_cli import main as register_main
    from simulation.dataset import write_raw_captures
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    rig = default_rig()
    reg = out / 'registration.yaml'
    out.mkdir(parents=True, exist_ok=True)
    truth_registration(rig).save(reg)
    sets = {}
    for name, n, seed in (('train', sizes[0], 300), ('test', sizes[1], 400)):
        raw, dest = out / f'raw_{name}', out / name
        if not (dest / 'labels').is_dir() or len(list((dest / 'labels').iterdir())) != n:
            shutil.rmtree(raw, ignore_errors=True)
            shutil.rmtree(dest, ignore_errors=True)
            write_raw_captures(raw, rig, n, seed=seed)
            if register_main(
                [
                    '--calibration',
                    str(reg),
                    '--visible',
                    str(raw / 'visible'),
                    '--thermal',
                    str(raw / 'thermal'),
                    '--labels',
                    str(raw / 'labels'),
                    '--output',
                    str(dest),
                    '--normalize-thermal',
                ]
            ):  # 8-bit thermal: what compare_fusion scores
                raise RuntimeError(f'register failed on the synthetic {name} captures')
        sets[name] = dest
    return sets


def train_rows(train_set: Path, out: Path, budget: dict, progress: bool) -> dict[str, dict]:
    from training.config import load_config
    from training.trainer import train

    runs = {}
    phase1 = max(1, budget['epochs'] // 4)  # SSVIF's stage I, EMMA's pseudo-sensing stage
    for name, (file, extra) in ROWS.items():
        # one alternating phase per epoch; the first quarter of the epochs for the first stage
        extra = [e.replace('STEPS', str(budget['steps'])).replace('PHASE1', str(phase1))
                 .replace('ROUNDS', str(max(1, budget['epochs'] // 2))) for e in extra]
        backbone = next((e.split('=')[1] for e in extra if e.startswith('model.backbone=')),
                        load_config(REPO / 'config' / 'training' / file).model.backbone)
        sets = [
            f'data.root={train_set}',
            'data.kind=synthetic_folder',
            f'data.crop={budget["crop"]}',
            f'data.batch_size={budget["batch"]}',
            'data.workers=0',
            'data.thermal={mode: auto}',
            f'epochs={budget["epochs"]}',
            f'max_steps_per_epoch={budget["steps"]}',
            'optim.lr=1.0e-3',
            'early_stopping_patience=null',
            'model.segformer=tiny',
            'model.seg_head_hidden=16',
            f'stage1_max_epochs={phase1}',
            'grad_analysis=false',
            'grid_samples=0',
            'device=cpu',
            'log_every=1',
            f'model.backbone_kwargs={CPU_BACKBONES[backbone]}',
            f'output_dir={out / slug(name)}',
        ] + extra
        cfg = load_config(REPO / 'config' / 'training' / file, sets)
        t0 = time.monotonic()
        res = train(cfg, progress=progress, resume='auto')
        h = res.history
        trained = [e for e in h if 'train_L_fusion' in e]  # epochs that train the fusion network
        fusion = [e['val_L_fusion'] for e in trained]  # validation: the same centre crops
        runs[name] = {
            'checkpoint': str(res.last_checkpoint),
            'framework': cfg.framework,
            'backbone': cfg.model.backbone,
            'channels': cfg.model.in_channels,
            'labels': cfg.framework in ('multitaskvif', 'segmif', 'original_seafusion'),
            'L_fusion_first': fusion[0],
            'L_fusion_last': fusion[-1],
            'train_L_fusion_first': trained[0]['train_L_fusion'],
            'train_L_fusion_last': trained[-1]['train_L_fusion'],
            'seconds': time.monotonic() - t0,
            'history': h,
        }
        print(
            f'{name}: validation L_fusion {fusion[0]:.4g} -> {fusion[-1]:.4g} '
            f'({runs[name]["seconds"]:.0f} s)',
            flush=True,
        )
    return runs


def slug(name: str) -> str:
    return ''.join(c if c.isalnum() else '_' for c in name).strip('_').lower()


def complexity_table() -> list[dict]:
    """Parameters and MACs of the deployed networks at the papers' widths."""
    import torch
    from training.config import load_config
    from training.models import count_macs, count_parameters, fusion_model_from_config

    rows = []
    nets = [
        ('SwinFusion', 'original_swinfusion.yaml', []),
        ('EMMA (U-Fuser)', 'original_emma.yaml', []),
        ('SeAFusion', 'original_seafusion.yaml', []),
        ('SSVIF (SwinF.)', 'ssvif.yaml', []),
        ('SegMiF (fusion net + SegFormer-B3)', 'segmif.yaml', []),
        (
            'SegMiF backbone, conv semantics',
            'ssvif.yaml',
            ['model.backbone=segmif', 'model.in_channels=1'],
        ),
        ('MultiTaskVIF I (SwinF. + MTH)', 'multitaskvif.yaml', []),
        ('MultiTaskVIF II (EMMA + MTH)', 'multitaskvif_emma.yaml', []),
        ('MultiTaskVIF III (SeAF. + MTH)', 'multitaskvif_seafusion.yaml', []),
        ('MultiTaskVIF IV (SegMiF + MTH)', 'multitaskvif_segmif.yaml', []),
        ('realtime (ours)', 'ssvif.yaml', ['model.backbone=realtime']),
    ]
    for name, file, extra in nets:
        cfg = load_config(REPO / 'config' / 'training' / file, extra)
        net = fusion_model_from_config(cfg.model).eval()
        row = {
            'network': name,
            'channels': cfg.model.in_channels,
            'params_M': count_parameters(net) / 1e6,
        }
        for h, w in ((256, 256), (480, 640)):
            row[f'GMACs_{h}x{w}'] = (
                count_macs(net, (torch.rand(1, 3, h, w), torch.rand(1, 1, h, w))) / 1e9
            )
        rows.append(row)
    return rows


def loss_plot(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, r in runs.items():
        pts = [(e['epoch'], e['val_L_fusion'] / r['L_fusion_first']) for e in r['history']
               if 'train_L_fusion' in e]
        ax.plot(*zip(*pts), marker='o', label=name)
    ax.set_xlabel('epoch')
    ax.set_ylabel('validation L_fusion / first value')
    ax.set_title("Each method's own fusion loss on the validation crops, relative to its first "
                 'fusion epoch', fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def evaluate(runs: dict, sets: dict, out: Path, budget: dict, progress: bool) -> tuple[dict, dict]:
    from evaluation.compare import compare
    from evaluation.seg_protocol import baseline_modules, run_protocol, write_reports
    from torch.utils.data import Subset
    from training.checkpoint import load_fusion_model
    from training.data.pairs import LabelledPairs, split_pairs
    from training.segmenter import SegmenterConfig

    fusion = compare(
        str(sets['test'] / 'visible'),
        str(sets['test'] / 'thermal'),
        [(n, r['checkpoint']) for n, r in runs.items()],
        out / 'fusion',
        baselines=True,
        progress=progress,
    )
    methods = {n: load_fusion_model(r['checkpoint'])[0] for n, r in runs.items()}
    methods.update(baseline_modules())
    data = LabelledPairs.from_layout('synthetic_folder', sets['train'])
    tr, va = split_pairs(list(range(len(data))), 0.1, seed=0)
    test = LabelledPairs.from_layout('synthetic_folder', sets['test'])
    cfg = SegmenterConfig(**budget['seg'])
    scores = run_protocol(
        methods, Subset(data, tr), Subset(data, va), test, cfg, 'fmb', progress=progress
    )
    write_reports(scores, out / 'segmentation', dict.fromkeys(runs, 'checkpoint'), len(test))
    return fusion, {n: s.miou() for n, s in scores.items()}


def write_summary(
    runs, fusion, miou, complexity, out: Path, summary: Path, budget: dict, seconds: float
) -> None:
    from evaluation.compare import PAPER_METRICS

    summary.mkdir(parents=True, exist_ok=True)
    loss_plot(runs, summary / 'losses.png')
    for f in ('summary.md',):
        shutil.copy(out / 'fusion' / f, summary / 'fusion_summary.md')
        shutil.copy(out / 'segmentation' / f, summary / 'segmentation_summary.md')
    cols = [m for m in PAPER_METRICS if m in next(iter(fusion.values()))]
    lines = [
        '# Frameworks at CPU scale (synthetic data)',
        '',
        'Produced by `nice .venv/bin/python scripts/compare_frameworks.py` '
        f'({seconds / 60:.0f} min on 2 shared CPU cores). **Every number comes from synthetic '
        'scenes; the mIoU column is scored against synthetic labels.** Networks at reduced '
        'widths, '
        f'{budget["epochs"]} epochs x {budget["steps"]} steps, batch {budget["batch"]}, '
        f'{budget["crop"]} px crops, lr 1e-3, same data and seed for every row: these runs show '
        'that '
        "each framework trains and how the pipeline compares them, not the papers' numbers.",
        '',
        f'Data: {budget["captures"][0]} training and {budget["captures"][1]} test captures of the '
        "simulator, registered with the rig's true calibration (640x480).",
        '',
        '| Method | framework | backbone | ch | labels | val. L_fusion first -> last | '
        + ' | '.join(cols)
        + ' | mIoU (synthetic) |',
        '|---' * (6 + len(cols) + 1) + '|',
    ]
    for name in list(runs) + [b for b in fusion if b not in runs]:
        r = runs.get(name)
        head = (
            f'| {name} | {r["framework"]} | {r["backbone"]} | {r["channels"]} | '
            f'{"yes" if r["labels"] else "no"} | '
            f'{r["L_fusion_first"]:.3g} -> {r["L_fusion_last"]:.3g} |'
            if r
            else f'| {name} (baseline) | - | - | - | - | - |'
        )
        vals = ' | '.join(f'{fusion[name][c]:.3f}' for c in cols)
        lines.append(f"{head} {vals} | {miou.get(name, float('nan')):.4f} |")
    lines += [
        '',
        "Each L_fusion is that method's own fusion loss on the validation crops, from the first "
        'to the last epoch that trains the fusion network (not comparable across frameworks).',
        '',
        'How to read this: at this budget every network is still far from the one-line '
        'baselines on most metrics and the segmenter of the protocol is barely trained, so '
        'the rows do not rank the methods. What the run shows is that each framework trains '
        'on the same data through the same trainer (its own loss falls, see the plot) and '
        'that both comparison commands handle every network it produces (multi-task head, '
        "SegMiF's SegFormer-fed network, one- and three-channel fusion).",
        '',
        'Full tables: [fusion_summary.md](fusion_summary.md), '
        '[segmentation_summary.md](segmentation_summary.md); loss curves: ![losses](losses.png)',
        '',
        "## Parameters and MACs (papers' widths, deployed network)",
        '',
        '| Network | ch | params (M) | GMACs 256x256 | GMACs 640x480 |',
        '|---|---|---|---|---|',
    ]
    lines += [
        f'| {c["network"]} | {c["channels"]} | {c["params_M"]:.3f} | {c["GMACs_256x256"]:.2f} | '
        f'{c["GMACs_480x640"]:.2f} |'
        for c in complexity
    ]
    (summary / 'README.md').write_text('\n'.join(lines) + '\n')
    (summary / 'runs.json').write_text(
        json.dumps(
            {n: {k: v for k, v in r.items() if k != 'history'} for n, r in runs.items()},
            indent=1,
            default=str,
        )
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--output', default=str(REPO / 'out' / 'compare_frameworks'))
    p.add_argument('--summary', default=str(REPO / 'docs' / 'results' / 'frameworks_cpu'))
    p.add_argument(
        '--smoke', action='store_true', help='toy sizes (seconds), for the pipeline test'
    )
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)  # small convolutions on a shared 2-core box: one thread is faster
    budget = SMOKE if args.smoke else BUDGET
    out, t0 = Path(args.output), time.monotonic()
    sets = synthetic_sets(out / 'synthetic', budget['captures'])
    runs = train_rows(sets['train'], out / 'runs', budget, not args.no_progress)
    fusion, miou = evaluate(runs, sets, out / 'report', budget, not args.no_progress)
    write_summary(
        runs,
        fusion,
        miou,
        complexity_table(),
        out / 'report',
        Path(args.summary),
        budget,
        time.monotonic() - t0,
    )
    print(f'compare_frameworks: summary in {args.summary}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
