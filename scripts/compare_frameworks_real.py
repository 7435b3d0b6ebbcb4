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
Table III on real pairs at CPU scale: every framework's fusion network, one segmenter recipe.

    OMP_NUM_THREADS=2 nice .venv/bin/python scripts/compare_frameworks_real.py \
        [--output out/frameworks_real] [--summary docs/results/frameworks_real] \
        [--seeds 0 1 2] [--budget small|default] [--seed-rows auto|NAME ...] [--smoke] \
        [--parallel 2]

1. labels: ``ssvif_make_labels`` on the training pairs (build_default_model's
   ``make_training_labels``; ``--labels DIR`` reuses a folder it wrote);
2. fusion: each row of ``ROWS`` trained on the same real pairs, RoadScene's
   ``train_split.txt`` and the MSRS training names (config/data/), with the
   same epochs x steps, crops, batch and learning rate; only the framework
   and its network differ (networks at ``CPU_BACKBONES`` widths of
   scripts/compare_frameworks.py). The supervised rows read those labels
   with their set labels ignored (``build_pseudo_labelled_datasets``: the
   frameworks' own losses are plain cross-entropy); CAF searches its loss
   on the labelled pairs, then retrains;
3. segmenter: the recipe of config/training/default_segmenter.yaml (fewer
   epochs for ``small``) on each row's fused training images, and on the
   visible image, the thermal image and the max-luminance rule;
4. scores: box recall (>= 24 px) and pixel precision of person / car /
   bicycle, day and night, on the 64 MSRS validation pairs (never trained
   on, never selected on); ``compare_fusion`` on VIFB-12, RoadScene-50 and
   SeAFusion's test-12;
5. seeds: every row with the first seed, then the other ``--seeds`` for
   ``--seed-rows`` (auto: SSVIF (SwinF.) and the other framework whose
   segmenter scores best on the dev blocks of the *training* pairs,
   ``training.data.splits.DEV_BLOCKS``: a training-fit score, as the
   validation pairs may not pick anything).

``--parallel N`` trains N rows at once, each in its own process (this script
with ``--row``, its log in the row's folder) on ``--threads`` threads
(default: the cores split between them). From the 2-thread speed-ups
below, two rows side by side on 2 cores finish their fusion training about
1.4 times sooner than one after the other on 2 threads, their inference
about 1.1 times and their segmenters about 1.05 times (two 80-epoch recipe
trainings side by side: 49 min; one after the other: ~52 min). A row in its
own process also repeats its numbers whatever ran before it.

``--summary`` receives README.md (tables, the command, its run time and a
paragraph written from the numbers) and pictures of ivf_seafusion_test12
pairs only (MIT); everything else stays in ``--output``. Finished runs are
kept (``OUTPUT/runs/*/s*/result.json``): a rerun continues.

Cost on 2 CPU cores (OMP_NUM_THREADS=2, nothing else running). Measured
here, one thread: one 640x480 fusion takes 2.6-3.4 s with a SwinFusion-
backbone row at CPU width, 1.4-1.6 s SeAFusion / SegMiF, 0.7 s EMMA,
0.4-0.6 s the dense-residual nets (CAF, bi-level), 0.13 s the shipped
realtime net; a fusion step at crop 96, batch 6 takes 0.5 s (realtime) to
3.5 s (EMMA with its views); compare_fusion ~1.2 s per image and method;
one recipe epoch 37 s (19.5 s on 2 threads: the recipe's 780 s for 40
epochs); the shipped fusion run, 1400 s for 40 x 16 steps, calibrates the
step times. Each row makes ~270 640x480-equivalent inputs (117 + 64 MSRS
pairs, 168 smaller RoadScene pairs) and fuses 74 test images.

* ``--budget small`` (8 epochs x 8 steps, crop 96, batch 6; 6 segmenter
  epochs): 9 framework rows + 3 one-line rows, then 2 rows x 2 more seeds
  (16 segmenters): about 2.5 h (inputs ~40 min, segmenters ~30 min,
  fusion training ~20 min, fusion metrics ~25 min, the seed reruns'
  fusion and inputs ~35 min, labels ~5 min: ``--labels
  out/default_model/labels`` reuses a finished label folder). The rows
  the auto pick repeats move this by about +-10 min; the 2-thread speed-ups
  (1.4x training, 1.8x inference, 1.9x segmenter) are estimates: +-25 %.
* ``--budget default`` (40 x 16 steps, crop 160, batch 10: the shipped
  fusion budget; the recipe's 40 segmenter epochs): about 22 h, 70 % of
  it fusion training (the SwinFusion rows and EMMA's views at crop 160).

``--smoke`` runs every step at toy sizes (4 MSRS pairs, 1 epoch, thinner
networks) in 1-2 minutes: the test suite's check of the plumbing.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import time


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'scripts'))  # the scripts it builds on (imported below)

#: name -> (training config, overrides); PHASE1 / STEPS / ROUNDS filled from the budget
ROWS = {
    'SSVIF (SwinF.)': ('ssvif.yaml', ['model.backbone=swinfusion']),
    'SSVIF (realtime, shipped net)': ('default_model.yaml', []),
    'Original SwinF.': ('original_swinfusion.yaml', []),
    'Original EMMA': ('original_emma.yaml', [
        'framework_options.sensing_epochs=PHASE1', 'framework_options.sensing_width=8',
        'framework_options.sensing_depth=3', 'framework_options.shifts=1',
        'framework_options.rotations=1', 'framework_options.flips=1']),
    'Original SeAF.': ('original_seafusion.yaml', [
        'framework_options.fusion_steps=STEPS', 'framework_options.seg_steps=STEPS']),
    'MultiTaskVIF I (SwinF.)': ('multitaskvif.yaml',
                                ['model.decoder_kwargs={width: 16, heads: 2}']),
    'SegMiF': ('segmif.yaml', [  # the paper's 3k-step warm-up is longer than the whole budget
        'framework_options.fusion_steps=STEPS', 'framework_options.seg_steps=STEPS',
        'framework_options.rounds=ROUNDS', 'framework_options.seg_warmup_steps=0',
        'framework_options.seg_lr=1.0e-3']),
    'CAF': ('caf_retrain.yaml', []),  # after its loss search (caf_search.yaml, PHASE1 epochs)
    'Bi-level': ('bilevel_synthetic_cpu.yaml', [
        'framework_options.warm_start_epochs=PHASE1', 'framework_options.milestones=null']),
}
SSVIF_ROW = 'SSVIF (SwinF.)'
#: the segmenter alone on one camera or a one-line rule (build_default_model's rows)
ONE_LINE = {'visible only': 'visible-only', 'thermal only': 'thermal-only',
            'max-luminance': 'max-luminance'}
BUDGETS = {
    'small': {'epochs': 8, 'steps': 8, 'crop': 96, 'batch': 6, 'seg_epochs': 6},
    'default': {'epochs': 40, 'steps': 16, 'crop': 160, 'batch': 10, 'seg_epochs': 40},
}
SMOKE = {'epochs': 2, 'steps': 1, 'crop': 64, 'batch': 2, 'seg_epochs': 1, 'widths': {
    # a third of the cost of the CPU width at 640x480: the plumbing, not the network
    'swinfusion': '{embed_dim: 8, num_heads: 1, window_size: 4, ex_depth: 1, fusion_depths: [1], '
                  're_depth: 1}',
    'seafusion': '{widths: [4, 8, 8]}',
    'segmif': '{semantic: segformer, segformer: tiny, num_classes: 15, width: 4, growth: 4, '
              'layers: 2, heads: 1}'}}
FUSION_SETS = {  # name -> (visible, thermal) under the data folder
    'vifb12': ('ivf_vifb21/VI', 'ivf_vifb21/IR'),
    'roadscene50_test': ('ivf_roadscene50/vi', 'ivf_roadscene50/ir'),
    'seafusion_test12': ('ivf_seafusion_test12/vi', 'ivf_seafusion_test12/ir'),
}
PICTURE_SET, PICTURE_PAIRS = 'ivf_seafusion_test12', ('00881N', '00633D')  # MIT: may be shown


def phases(budget: dict) -> dict[str, str]:
    return {'PHASE1': str(max(1, budget['epochs'] // 4)), 'STEPS': str(budget['steps']),
            'ROUNDS': str(max(1, budget['epochs'] // 2))}


def data_overrides(data: Path, out: Path, train_names: list[str], smoke: bool) -> list[str]:
    """Return the data.* overrides every row trains on: RoadScene's split + MSRS training names."""
    from training.data.splits import split_file

    if smoke:  # the few MSRS pairs the smoke run labels
        listed = out / 'smoke_train.txt'
        listed.parent.mkdir(parents=True, exist_ok=True)
        listed.write_text('\n'.join(train_names) + '\n')
        return [f"data.root={data / 'msrs_test_dev'}", f'data.list_file={listed}',
                'data.extra_sources=[]']
    msrs = {'kind': 'pairs', 'root': str(data / 'msrs_test_dev'),
            'list_file': str(split_file('train'))}
    return [f"data.root={data / 'ivf_roadscene221'}", 'data.list_file=train_split.txt',
            f'data.extra_sources={json.dumps([msrs])}']


def row_config(name: str, seed: int, budget: dict, data_sets: list[str], out: Path,
               more: tuple[str, ...] = ()):
    """Return the TrainConfig of one row: its config file, the shared budget, the shared data."""
    from compare_frameworks import CPU_BACKBONES
    from training.config import load_config

    cpu = {**CPU_BACKBONES, **budget.get('widths', {})}
    file, extra = ROWS[name]
    fill = phases(budget)
    sets = [e.replace('PHASE1', fill['PHASE1']).replace('STEPS', fill['STEPS'])
            .replace('ROUNDS', fill['ROUNDS']) for e in extra] + list(more)
    path = REPO / 'config' / 'training' / file
    sets = ['data.kind=pairs', *data_sets, f'data.crop={budget["crop"]}',
            f'data.batch_size={budget["batch"]}', 'data.workers=0', 'data.thermal={mode: auto}',
            'data.val_mode=center', 'data.val_crop=null', f'epochs={budget["epochs"]}',
            f'max_steps_per_epoch={budget["steps"]}', 'optim.lr=1.0e-3',
            'early_stopping_patience=null', 'model.segformer=tiny', 'model.seg_head_hidden=16',
            f'stage1_max_epochs={fill["PHASE1"]}', 'grad_analysis=false', 'grid_samples=0',
            'device=cpu', 'log_every=5', f'seed={seed}', f'output_dir={out}'] + sets
    backbone = load_config(path, sets).model.backbone
    return load_config(path, sets + ([f'model.backbone_kwargs={cpu[backbone]}']
                                     if backbone in cpu else []))


def train_fusion_row(name: str, seed: int, budget: dict, data_sets: list[str], label_root: Path,
                     rdir: Path, progress: bool) -> dict:
    """Train one row's fusion network; returns its checkpoint and what it trained."""
    from training.data.labelled import build_pseudo_labelled_datasets
    from training.frameworks import framework_class
    from training.trainer import train

    labels = [label_root / 'msrs_test_dev', label_root / 'ivf_roadscene221']
    more, info = (), {}
    if name == 'CAF':  # the loss search first; the retraining reads the loss it found
        options, info['caf_beta'] = caf_search(seed, budget, data_sets, labels, rdir, progress)
        more = (f'framework_options={json.dumps(options)}',)
    cfg = row_config(name, seed, budget, data_sets, rdir / 'fusion', more)
    supervised = framework_class(cfg.framework).needs_labels
    datasets = build_pseudo_labelled_datasets(cfg.data, labels) if supervised else None
    res = train(cfg, progress=progress, resume='auto', datasets=datasets)
    trained = [h for h in res.history if 'train_L_fusion' in h]
    info.update(framework=cfg.framework, backbone=cfg.model.backbone,
                channels=cfg.model.in_channels, labels=supervised or name == 'CAF',
                epochs=len(res.history),
                checkpoint=str(res.best_checkpoint or res.last_checkpoint),
                train_L_fusion=[trained[0]['train_L_fusion'], trained[-1]['train_L_fusion']]
                if trained else None)
    return info


def caf_search(seed: int, budget: dict, data_sets: list[str], labels: list[Path], rdir: Path,
               progress: bool) -> tuple[dict, dict]:
    """Run CAF's loss search on the labelled training pairs; return (retraining options, beta)."""
    from training.caf.cli import retrain_config
    from training.caf.config import load_caf_config
    from training.caf.search import LossSearch
    from training.config import load_config
    from training.data.labelled import build_pseudo_labelled_datasets

    fill = phases(budget)
    cfg = load_caf_config(REPO / 'config' / 'training' / 'caf_search.yaml', [
        f'search.epochs={fill["PHASE1"]}', f'search.max_steps_per_epoch={budget["steps"]}',
        f'search.seed={seed}', f'data.crop={budget["crop"]}', f'data.batch_size={budget["batch"]}',
        f"output_dir={rdir / 'caf' / 'search'}", 'log_every=5'])
    data = load_config(None, ['data.kind=pairs', *data_sets, f'data.crop={budget["crop"]}',
                              'data.thermal={mode: auto}', 'data.val_fraction=0.5']).data
    result = LossSearch(cfg, build_pseudo_labelled_datasets(data, labels, search=True),
                        progress).run(resume='auto')
    options = retrain_config(cfg, result.beta_file.resolve(), rdir / 'caf', None, []
                             ).framework_options  # the found loss, inline
    return options, result.beta


def segmenter_row(source, seed: int, ctx: dict, rdir: Path, one_camera: bool) -> dict:
    """Train the recipe on what ``source`` makes; score it on the validation boxes."""
    import cv2
    import torch
    from training.data import source_pairs
    from training.data.splits import DEV_BLOCKS, msrs_block_split
    from training.segmenter import load_segmenter
    from training.segmenter.recipe import (box_score, load_recipe, make_inputs, predict_ids,
                                           recipe_pairs, train_recipe, validation_score)

    sets = [f'segmenter.epochs={ctx["budget"]["seg_epochs"]}', f'segmenter.seed={seed}']
    sets += ['segmenter.in_channels=3'] if one_camera else []
    sets += ctx['bdm'].SMOKE_RECIPE if ctx['smoke'] else []
    recipe = load_recipe(REPO / 'config' / 'training' / 'default_segmenter.yaml', sets)
    data, train, val = ctx['data'], ctx['train_names'], ctx['val_names']
    boxed, pairs = recipe_pairs(data, train + val, recipe.pairs)
    four = recipe.segmenter.in_channels == 4
    t0 = time.monotonic()
    inputs = make_inputs(source, boxed + pairs, ctx['progress'], with_thermal=four)
    t1 = time.monotonic()
    torch.manual_seed(seed)
    res = train_recipe(source, data, ctx['label_root'], recipe, rdir / 'segmenter.pt', train,
                       progress=ctx['progress'], inputs=inputs)
    t2 = time.monotonic()
    seg = load_segmenter(res.checkpoint)[0].eval()
    boxes = data / 'msrs_test_dev'
    dev = msrs_block_split(train, DEV_BLOCKS)[1] or train
    pics = [p for p in source_pairs('pairs', data / PICTURE_SET) if p.name in PICTURE_PAIRS]
    shown = make_inputs(source, pics, with_thermal=four)
    (rdir / 'pictures').mkdir(parents=True, exist_ok=True)
    for name, img in shown.items():
        cv2.imwrite(str(rdir / 'pictures' / f'{name}_input.png'),
                    cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(rdir / 'pictures' / f'{name}_ids.png'), predict_ids(seg, img))
    return {'segmenter': str(res.checkpoint), 'segmenter_epochs': len(res.history),
            'box': box_score(seg, inputs, val, boxes).summary(),
            'dev_score': validation_score(box_score(seg, inputs, dev, boxes).summary()),
            'seconds_inputs': round(t1 - t0, 1), 'seconds_segmenter': round(t2 - t1, 1),
            'seconds_score': round(time.monotonic() - t2, 1)}


def run(name: str, seed: int, ctx: dict) -> dict:
    """One row at one seed (fusion if a framework, then the segmenter); cached in result.json."""
    from training.models.baseline_fusion import BaselineFusion

    rdir = ctx['out'] / 'runs' / ctx['slug'](name) / f's{seed}'
    done = rdir / 'result.json'
    if done.is_file():
        return json.loads(done.read_text())
    print(f'\n=== {name}, seed {seed} ===', flush=True)
    t0 = time.monotonic()
    result = {'row': name, 'seed': seed}
    if name in ROWS:
        from training.checkpoint import load_fusion_model

        result.update(train_fusion_row(name, seed, ctx['budget'], ctx['data_sets'],
                                       ctx['label_root'], rdir, ctx['progress']))
        result['seconds_fusion'] = round(time.monotonic() - t0, 1)
        source = load_fusion_model(result['checkpoint'])[0]
    else:
        source = BaselineFusion(ONE_LINE[name])
    result.update(segmenter_row(source, seed, ctx, rdir,
                                ONE_LINE.get(name) in ctx['bdm'].ONE_CAMERA))
    result['seconds'] = round(time.monotonic() - t0, 1)
    done.write_text(json.dumps(result, indent=1, default=float))
    print(f'--- {name}, seed {seed}: {result["seconds"]:.0f} s', flush=True)
    return result


def run_rows(jobs: list[tuple[str, int]], ctx: dict, parallel: int, threads: int,
             worker_args: list[str]) -> list[dict]:
    """
    Run ``jobs`` [(row, seed)]: in this process, or ``parallel`` at once in workers.

    A worker is this script with ``worker_args`` and ``--row ROW --seeds SEED``
    on ``threads`` threads; its output goes to the row's log.txt, and its
    result.json is what it returns. A failed worker raises with its log's path.
    """
    if parallel <= 1:
        return [run(name, seed, ctx) for name, seed in jobs]
    from concurrent.futures import ThreadPoolExecutor

    def one(job: tuple[str, int]) -> dict:
        name, seed = job
        rdir = ctx['out'] / 'runs' / ctx['slug'](name) / f's{seed}'
        done = rdir / 'result.json'
        if not done.is_file():
            rdir.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), *worker_args, '--row', name,
                   '--seeds', str(seed)]
            env = {**os.environ, 'OMP_NUM_THREADS': str(threads)}
            print(f'=== {name}, seed {seed}: started (log: {rdir / "log.txt"})', flush=True)
            with open(rdir / 'log.txt', 'w') as log:
                rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    check=False).returncode
            if rc != 0 or not done.is_file():
                raise RuntimeError(f'row {name!r}, seed {seed} failed (exit code {rc}): '
                                   f'{rdir / "log.txt"}')
        result = json.loads(done.read_text())
        print(f'--- {name}, seed {seed}: {result["seconds"]:.0f} s', flush=True)
        return result

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, jobs))


def fusion_metrics(runs: list[dict], data: Path, out: Path, smoke: bool, progress: bool) -> dict:
    """``compare_fusion`` of every fusion run (and the one-line rules) on the three test sets."""
    from evaluation.compare import compare

    methods = [[f'{r["row"]} [s{r["seed"]}]', r['checkpoint']] for r in runs if 'checkpoint' in r]
    results = {}
    for name, (vis, ir) in FUSION_SETS.items():
        vis, ir = data / vis, data / ir
        if smoke:  # one pair: the plumbing, not the numbers
            pick = out / 'smoke_data' / name
            small = min((p for p in vis.iterdir() if p.is_file()), key=lambda p: p.stat().st_size)
            for sub, src in (('vi', vis), ('ir', ir)):  # the smallest visible file and its pair
                (pick / sub).mkdir(parents=True, exist_ok=True)
                first = next(p for p in src.iterdir() if p.stem == small.stem)
                if not (pick / sub / first.name).exists():
                    os.symlink(first.resolve(), pick / sub / first.name)
            vis, ir = pick / 'vi', pick / 'ir'
        dest = out / 'report' / 'fusion' / name
        kept = dest / 'means.json'  # a rerun with the same runs reuses the scores
        if kept.is_file() and json.loads(kept.read_text())['methods'] == methods:
            results[name] = json.loads(kept.read_text())['means']
            continue
        results[name] = compare(str(vis), str(ir), methods, dest, baselines=True,
                                progress=progress,
                                grid_rows=2 if name == 'seafusion_test12' else 0)
        kept.write_text(json.dumps({'methods': methods, 'means': results[name]}))
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'))
    p.add_argument('--weights', default=str(REPO.parent / 'shared' / 'weights'))
    p.add_argument('--output', default=str(REPO / 'out' / 'frameworks_real'))
    p.add_argument('--summary', default=str(REPO / 'docs' / 'results' / 'frameworks_real'))
    p.add_argument('--labels', default=None, help='a label folder ssvif_make_labels wrote '
                   'for the same training pairs (default: make them in OUTPUT/labels)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--seed-rows', nargs='+', default=['auto'],
                   help='rows the later seeds repeat (auto: SSVIF and the best other by dev fit)')
    p.add_argument('--budget', choices=sorted(BUDGETS), default='small')
    p.add_argument('--smoke', action='store_true', help='toy sizes: the pipeline test')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--parallel', type=int, default=1,
                   help='rows trained at once, each in its own process')
    p.add_argument('--threads', type=int, default=None,
                   help='threads per row with --parallel (default: the cores split evenly)')
    p.add_argument('--row', default=None, help=argparse.SUPPRESS)  # --parallel's worker
    args = p.parse_args(argv)
    data, weights, out = Path(args.data), Path(args.weights), Path(args.output)
    for need in (data / 'ivf_roadscene221' / 'train_split.txt', data / 'msrs_test_dev' / 'labels',
                 weights, *(data / v for v, _ in FUSION_SETS.values())):
        if not need.exists():
            print(f'compare_frameworks_real: {need} is missing', file=sys.stderr)
            return 2
    bad = [r for r in [*args.seed_rows, *([args.row] if args.row else [])]
           if r != 'auto' and r not in ROWS and r not in ONE_LINE]
    if bad:
        print(f'compare_frameworks_real: unknown row {bad[0]!r}', file=sys.stderr)
        return 2
    t0, progress = time.monotonic(), not args.no_progress
    import build_default_model as bdm
    from compare_frameworks import slug
    from compare_frameworks_real_report import write_summary

    train_names, val_names = bdm.msrs_split(args.smoke)
    if set(train_names) & set(val_names):
        raise RuntimeError('the MSRS training and validation names overlap')
    budget = SMOKE if args.smoke else BUDGETS[args.budget]
    manifest = out / 'manifest.json'
    if manifest.is_file() and json.loads(manifest.read_text())['budget'] != budget:
        print(f'compare_frameworks_real: {out} holds runs of another budget: use another '
              '--output', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    if args.labels:
        label_root = Path(args.labels)
    else:
        label_root = bdm.make_training_labels(data, weights, out, train_names, progress,
                                              args.smoke)[0]
    ctx = {'bdm': bdm, 'data': data, 'out': out, 'budget': budget, 'smoke': args.smoke,
           'progress': progress, 'train_names': train_names, 'val_names': val_names,
           'label_root': label_root, 'slug': slug,
           'data_sets': data_overrides(data, out, train_names, args.smoke)}
    if args.row:  # a worker of --parallel: one row at one seed, its result.json the answer
        run(args.row, args.seeds[0], ctx)
        return 0
    from training.data import configured_pairs

    fusion_pairs = [q.name for q in configured_pairs(row_config(SSVIF_ROW, 0, budget,
                                                                ctx['data_sets'], out).data)]
    manifest.write_text(json.dumps({
        'fusion_pairs': fusion_pairs, 'segmenter_boxes': train_names, 'scored': val_names,
        'budget': budget, 'seeds': args.seeds, 'labels': str(label_root)}, indent=1))
    parallel = max(1, args.parallel)
    threads = args.threads or max(1, (os.cpu_count() or 2) // parallel)
    worker_args = ['--data', str(data), '--weights', str(weights), '--output', str(out),
                   '--labels', str(label_root), '--budget', args.budget, '--no-progress',
                   *(['--smoke'] if args.smoke else [])]
    runs = run_rows([(name, args.seeds[0]) for name in [*ROWS, *ONE_LINE]], ctx, parallel,
                    threads, worker_args)
    seed_rows = args.seed_rows
    if seed_rows == ['auto']:
        others = [r for r in runs if r['row'] in ROWS and not r['row'].startswith('SSVIF')]
        seed_rows = [SSVIF_ROW, max(others, key=lambda r: r['dev_score'])['row']]
    runs += run_rows([(name, s) for s in args.seeds[1:] for name in seed_rows], ctx, parallel,
                     threads, worker_args)
    fusion = fusion_metrics(runs, data, out, args.smoke, progress)
    command = 'nice .venv/bin/python scripts/compare_frameworks_real.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    write_summary(
        runs, fusion, Path(args.summary), out, {
            'command': command.strip(), 'seconds': time.monotonic() - t0, 'budget': budget,
            'budget_name': 'smoke' if args.smoke else args.budget, 'seeds': args.seeds,
            'seed_rows': seed_rows, 'rows': list(ROWS), 'one_line': list(ONE_LINE),
            'ssvif': SSVIF_ROW, 'n_val': len(val_names), 'n_train': len(fusion_pairs),
            'data': 'smoke: MSRS training names only' if args.smoke else
            'RoadScene `train_split.txt` + the MSRS training names of config/data/',
            'pictures': PICTURE_PAIRS})
    print(f'compare_frameworks_real: summary in {args.summary}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
