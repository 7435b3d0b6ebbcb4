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
Rebuild the shipped default model, models/ssvif_default.onnx, and its model-card numbers.

    bash scripts/build_default_model.sh [--data ../shared/data] [--weights ../shared/weights] \
        [--output out/default_model]

1. fusion: SSVIF on the 168 RoadScene pairs of ``train_split.txt`` and the
   117 training pairs of ``msrs_test_dev`` (config/training/default_model.yaml;
   RoadScene's 50 test pairs and the 64 MSRS validation pairs never enter
   training: config/data/README.md);
2. labels: ``ssvif_make_labels`` on the same training pairs: daylight
   teachers, boxes and the thermal image (training/labels/README.md);
3. segmenters: the recipe of config/training/default_segmenter.yaml on the
   fused images of those pairs and, for the comparison rows, on the visible
   image alone, the thermal image alone and the max-luminance rule's image;
   ``SEG_PARALLEL`` at a time, each in its own process on ``SEG_THREADS``
   thread (2026-12-08, 2 cores: two 80-epoch trainings side by side took
   49 min, one after the other on 2 threads they take about 52 min; the
   recipe scales to 2 threads almost fully, so the gain is small);
4. export: one ONNX graph (visible, thermal) -> (fused, class ids), written
   to ``--model-out`` (default models/ssvif_default.onnx) with its labels file;
5. comparison bundles: each comparison segmenter exported the same way
   (the rows that measure what fusion brings to the mask);
6. evaluation: masks against the real boxes of the MSRS validation pairs
   (``evaluate_segmentation``: the shipped model, the comparison segmenters,
   the daylight teachers on the visible image), ``compare_fusion`` on VIFB-12,
   RoadScene-50, SeAFusion's test-12 and the MSRS validation pairs with the
   published methods where present and the one-line rules, the mask's mIoU on
   held-out synthetic captures (synthetic labels: secondary), and
   ``evaluate_drive`` (flicker, ΔE) on a synthetic drive. Everything lands in
   ``--output``/report/.

Same seeds, same data, same numbers: the segmenters train in a fresh
process on ``SEG_THREADS`` threads, since a CPU training's floats depend on
the thread count and, measured, on what ran before it in the process. Their
draws spread widely (models/README.md, "One draw of the recipe").
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import shutil
import sys
import time


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEG_TEST_CAPTURES = 60
COMPARISON_INPUTS = ('visible-only', 'thermal-only', 'max-luminance')
ONE_CAMERA = ('visible-only', 'thermal-only')
TEACHERS = ('deeplab', 'espnetv2')
# --smoke: the same steps at toy sizes (the test suite runs it; minutes -> seconds)
SMOKE_FUSION = [
    'epochs=2',
    'max_steps_per_epoch=2',
    'data.crop=48',
    'data.batch_size=2',
    'stage1_max_epochs=1',
    'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}',
    'model.seg_head_hidden=8',
    'grid_samples=0',
    'data.max_samples=12',
]
SMOKE_RECIPE = ['segmenter.epochs=1', 'segmenter.batch_size=2', 'segmenter.width=8',
                'augment.crop=64', 'boxes_repeat=1', 'pairs=false']
SMOKE_PAIRS = 4  # MSRS pairs per split in a smoke run
#: segmenters train in a fresh process on this many threads: a CPU training's floats depend on the
#: thread count and on what ran before it in the process (models/README.md, "One draw"); neither
#: depends on what runs beside it, so SEG_PARALLEL trainings share the CPU
SEG_THREADS = 1
SEG_PARALLEL = 2


class Step:
    timings: dict[str, float] = {}

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        print(f'\n=== {self.name} ===', flush=True)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        Step.timings[self.name] = round(time.monotonic() - self.t0, 1)
        print(f'--- {self.name}: {Step.timings[self.name]:.1f} s', flush=True)


def msrs_split(smoke: bool) -> tuple[list[str], list[str]]:
    """Return the committed MSRS train / validation names (a few of each in a smoke run)."""
    from ros2_ssvif.image_files import read_name_list
    from training.data.splits import split_file

    train, val = read_name_list(split_file('train')), read_name_list(split_file('val'))
    if smoke:
        train = [n for n in train if n.endswith('D')][:SMOKE_PAIRS // 2] + \
            [n for n in train if n.endswith('N')][:SMOKE_PAIRS // 2]
        val = [n for n in val if n.endswith('D')][:1] + [n for n in val if n.endswith('N')][:1]
    return train, val


def train_fusion(data: Path, out: Path, progress: bool, smoke: bool = False) -> tuple[Path, dict]:
    from training.config import load_config
    from training.data.splits import split_file
    from training.trainer import train

    msrs = {'kind': 'pairs', 'root': str(data / 'msrs_test_dev'),
            'list_file': str(split_file('train'))}
    cfg = load_config(REPO / 'config' / 'training' / 'default_model.yaml',
                      [f"data.root={data / 'ivf_roadscene221'}", f"output_dir={out / 'fusion'}",
                       f'data.extra_sources={json.dumps([msrs])}']
                      + (SMOKE_FUSION if smoke else []))
    result = train(cfg, progress=progress, resume='auto')
    ckpt = Path(result.best_checkpoint or result.last_checkpoint)
    last = result.history[-1] if result.history else {}
    return ckpt, {
        'epochs': len(result.history),
        'stage_switch_epoch': result.stage_switch_epoch,
        'best_epoch': next((h['epoch'] for h in result.history
                            if h.get('val_L_fusion') == last.get('best_val_L_fusion')), None),
        'best_val_L_fusion': last.get('best_val_L_fusion'),
        'checkpoint': str(ckpt),
    }


def make_training_labels(data: Path, weights: Path, out: Path, train_names: list[str],
                         progress: bool, smoke: bool = False, rule=None) -> tuple[Path, dict]:
    """
    Make the labels of the MSRS (and RoadScene) training pairs in out/labels.

    ``rule``: a ``LabelRule`` (default: the shipped one).
    """
    from ros2_ssvif.image_files import read_name_list
    from training.labels.compose import LabelRule
    from training.labels.make import LabelSet, make_labels, write_report
    from training.teachers import load_teacher

    sets = [LabelSet('msrs_test_dev', data / 'msrs_test_dev', tuple(train_names), True)]
    if not smoke:
        rs = data / 'ivf_roadscene221'
        sets.append(LabelSet(rs.name, rs, tuple(read_name_list(rs / 'train_split.txt')), False))
    teachers = [load_teacher(t, weights) for t in TEACHERS]
    label_root = out / 'labels'
    stats = make_labels(sets, teachers, label_root, rule or LabelRule(), progress=progress)
    write_report(stats, sets, label_root)
    return label_root, {k: {kk: vv for kk, vv in v.items() if kk in ('day', 'night')}
                        for k, v in stats.items()}


def recipe_decision() -> tuple[dict[str, float], bool]:
    """Return how the recipe decides the mask: (``class_bias``, ``flip_average``)."""
    from training.segmenter.recipe import load_recipe

    seg = load_recipe(REPO / 'config' / 'training' / 'default_segmenter.yaml').segmenter
    return dict(seg.class_bias or {}), bool(seg.flip_average)


def train_seg_isolated(spec: tuple[str, str], data: Path, label_root: Path,
                       train_names: list[str], path: Path, progress: bool, smoke: bool = False,
                       overrides: tuple[str, ...] = ()) -> dict:
    """
    Train the recipe's segmenter in a fresh process on ``SEG_THREADS`` threads.

    A rebuild repeats it bit for bit.

    ``spec``: ('fusion', checkpoint) or ('baseline', rule)
    (:mod:`training.segmenter.isolated`).
    """
    from training.segmenter.isolated import train_recipe_isolated
    from training.segmenter.recipe import load_recipe

    recipe_path = REPO / 'config' / 'training' / 'default_segmenter.yaml'
    sets = list(overrides) + (SMOKE_RECIPE if smoke else [])
    res = train_recipe_isolated(spec, recipe_path, sets, data, label_root, train_names, path,
                                progress, SEG_THREADS)
    recipe = load_recipe(recipe_path, sets)
    return {**res, 'config': {k: getattr(recipe.segmenter, k)
                              for k in ('variant', 'width', 'scale', 'epochs', 'lr')}}


def export_bundle(source, seg_ckpt: Path, path: Path) -> dict:
    """
    Export one graph (visible, thermal) -> (fused, ids) of ``source`` and the segmenter.

    The recipe's current ``class_bias`` and ``flip_average`` replace the
    checkpoint's, so a comparison segmenter kept from an earlier build decides
    like a new one (neither touches training).
    """
    from training.export import export_onnx
    from training.segmenter import load_segmenter
    from training.segmenter.model import set_decision

    seg, cfg = load_segmenter(seg_ckpt)
    set_decision(seg, cfg, *recipe_decision())
    return export_onnx(source.eval(), seg, path, class_set=cfg.class_set,
                       extra={'class_bias': dict(cfg.class_bias or {}),
                              'flip_average': cfg.flip_average})


def comparison_checkpoint(out: Path, kind: str) -> Path:
    """Return where the comparison segmenter of ``kind`` is kept (a later build reuses it)."""
    return out / 'compare' / f'segmenter_{kind}.pt'


def train_segmenters(jobs: dict[str, tuple], data: Path, label_root: Path,
                     train_names: list[str], progress: bool, smoke: bool = False) -> dict:
    """
    Train ``jobs`` {name: (spec, checkpoint, overrides)}, ``SEG_PARALLEL`` at a time.

    Each runs in its own process (``train_seg_isolated``), so a segmenter is
    the same trained alone or beside another. Only the first job shows a
    progress bar (two bars on one terminal would interleave); each finished
    one prints a line. Returns {name: summary}.
    """
    from concurrent.futures import ThreadPoolExecutor

    def run(item):
        i, (name, (spec, ckpt, overrides)) = item
        res = train_seg_isolated(spec, data, label_root, train_names, ckpt,
                                 progress and i == 0, smoke, overrides=overrides)
        print(f"segmenter '{name}': {res['epochs']} epochs, final loss "
              f"{res['final_loss']:.4f}", flush=True)
        return name, res

    with ThreadPoolExecutor(SEG_PARALLEL) as pool:
        return dict(pool.map(run, enumerate(jobs.items())))


def comparison_jobs(out: Path) -> dict[str, tuple]:
    """
    Return the comparison rows' training jobs not already trained.

    Each is the same recipe on one camera or a one-line rule.

    The one-camera rows see that camera only (3 channels); the max-luminance
    row gets the thermal channel too when the recipe's segmenter has it, so
    it differs from the shipped model in the fusion alone.
    """
    jobs = {}
    for kind in COMPARISON_INPUTS:
        ckpt = comparison_checkpoint(out, kind)
        if not ckpt.is_file():
            one_camera = ('segmenter.in_channels=3',) if kind in ONE_CAMERA else ()
            jobs[kind] = (('baseline', kind), ckpt, one_camera)
    return jobs


def comparison_bundles(out: Path) -> dict[str, Path]:
    """Export each comparison segmenter with its one-line source as a bundle."""
    from training.models.baseline_fusion import BaselineFusion

    bundles = {}
    for kind in COMPARISON_INPUTS:
        bundles[kind] = out / 'compare' / f'{kind}.onnx'
        export_bundle(BaselineFusion(kind), comparison_checkpoint(out, kind), bundles[kind])
    return bundles


def teacher_masks(data: Path, weights: Path, names: list[str], out: Path) -> dict[str, Path]:
    """Write the daylight teachers' masks of the visible images (visible-only rows)."""
    import cv2
    import numpy as np
    from ros2_ssvif.classes import IGNORE_INDEX
    from training.labels.make import cached_teacher
    from training.teachers import load_teacher

    folders = {}
    for name in TEACHERS:
        teacher = load_teacher(name, weights)
        dest = out / 'teacher_masks' / name
        dest.mkdir(parents=True, exist_ok=True)
        for n in names:
            rgb = cv2.cvtColor(cv2.imread(str(data / 'msrs_test_dev' / 'vi' / f'{n}.png')),
                               cv2.COLOR_BGR2RGB)
            o = cached_teacher(teacher, rgb, out / 'labels' / 'teachers' / name / 'val' /
                               f'{n}.npz')
            cv2.imwrite(str(dest / f'{n}.png'),
                        np.where(o.fmb_ids == IGNORE_INDEX, 0, o.fmb_ids).astype(np.uint8))
        folders[f'{name} teacher (visible only)'] = dest
    return folders


def evaluate_masks(model: Path, bundles: dict[str, Path], teachers: dict[str, Path],
                   data: Path, val_names: list[str], out: Path, progress: bool) -> dict:
    """``evaluate_segmentation`` on the MSRS validation pairs; returns method -> summary."""
    from evaluation.box_protocol import evaluate

    pairs = out / 'report' / 'msrs_val_pairs.txt'
    pairs.parent.mkdir(parents=True, exist_ok=True)
    pairs.write_text('\n'.join(val_names) + '\n')
    methods = [('SSVIF-default (fused)', str(model))]
    methods += [(f'same segmenter on {k}', str(v)) for k, v in bundles.items()]
    methods += [(k, str(v)) for k, v in teachers.items()]
    return evaluate(data / 'msrs_test_dev', methods, out / 'report' / 'segmentation_msrs_val',
                    pairs=pairs, overlays=6, progress=progress)


def synthetic_test_set(out: Path, smoke: bool = False) -> Path:
    """Make held-out labelled synthetic captures (pixel labels: a secondary mIoU)."""
    from calibration.register_cli import main as register_main
    from simulation.dataset import write_raw_captures
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    rig = default_rig()
    reg = out / 'synthetic' / 'registration.yaml'
    reg.parent.mkdir(parents=True, exist_ok=True)
    truth_registration(rig).save(reg)
    raw, dest = out / 'synthetic' / 'raw_test', out / 'synthetic' / 'test'
    if not (dest / 'labels').is_dir():
        shutil.rmtree(raw, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
        write_raw_captures(raw, rig, 4 if smoke else SEG_TEST_CAPTURES, seed=200)
        rc = register_main(['--calibration', str(reg), '--visible', str(raw / 'visible'),
                            '--thermal', str(raw / 'thermal'), '--labels', str(raw / 'labels'),
                            '--output', str(dest)])
        if rc != 0:
            raise RuntimeError('register failed on the synthetic test captures')
    return dest


def deployed_miou(model: Path, test_dir: Path) -> dict:
    """
    Measure the mIoU of the exported bundle on held-out synthetic captures.

    Through the torch-free runtime the node uses (argmax at the segmenter's
    scale, as deployed). Synthetic labels: a secondary number.
    """
    import cv2
    from evaluation.metrics.segmentation import SegmentationScore
    from ros2_ssvif.fuse_images import read_thermal_raw, read_visible_u8
    from ros2_ssvif.model_runner import FusionSegmenter
    from ros2_ssvif.thermal import ThermalNormalizer

    bundle, norm = FusionSegmenter(model), ThermalNormalizer(video=False)
    score = SegmentationScore('fmb')
    for lab in sorted((test_dir / 'labels').glob('*.png')):
        vis = read_visible_u8(test_dir / 'visible' / lab.name)
        thr = read_thermal_raw(test_dir / 'thermal' / lab.name)
        _, ids = bundle(vis, norm(thr))
        score.update(cv2.imread(str(lab), cv2.IMREAD_UNCHANGED), ids)
    return {'miou': score.miou(), 'iou': score.per_class_iou()}


def _linked_pairs(pairs: list[tuple[Path, Path]], dest: Path) -> tuple[Path, Path]:
    """Make a vi/ + ir/ folder of links to the given (visible, thermal) files."""
    for sub in ('vi', 'ir'):
        shutil.rmtree(dest / sub, ignore_errors=True)
        (dest / sub).mkdir(parents=True)
    for vis, ir in pairs:
        (dest / 'vi' / vis.name).symlink_to(vis.resolve())
        (dest / 'ir' / ir.name).symlink_to(ir.resolve())
    return dest / 'vi', dest / 'ir'


def _first_pairs(vis: Path, ir: Path, n: int) -> list[tuple[Path, Path]]:
    v = sorted(p for p in vis.iterdir() if p.is_file())[:n]
    t = sorted(p for p in ir.iterdir() if p.is_file())[:n]
    return list(zip(v, t))


def evaluate_fusion(model: Path, data: Path, out: Path, val_names: list[str], progress: bool,
                    smoke: bool = False) -> dict:
    from evaluation.compare import compare

    report = out / 'report'
    msrs = data / 'msrs_test_dev'
    val_vi, val_ir = _linked_pairs([(msrs / 'vi' / f'{n}.png', msrs / 'ir' / f'{n}.png')
                                    for n in val_names], out / 'msrs_val_pairs')
    sets = {
        'vifb21': (data / 'ivf_vifb21' / 'VI', data / 'ivf_vifb21' / 'IR',
                   {m: data / 'ivf_vifb21' / 'fused' / m
                    for m in ('SeAFusion', 'SwinFusion', 'U2Fusion')}),
        'roadscene50_test': (data / 'ivf_roadscene50' / 'vi', data / 'ivf_roadscene50' / 'ir', {}),
        'seafusion_test12': (data / 'ivf_seafusion_test12' / 'vi',
                             data / 'ivf_seafusion_test12' / 'ir', {}),
        'msrs_val': (val_vi, val_ir, {}),
    }
    refs = os.environ.get('SSVIF_REFERENCE_OUTPUTS')  # published outputs fetched by the user
    results = {}
    for name, (vis, ir, methods) in sets.items():
        methods = {k: v for k, v in methods.items() if v.is_dir()}
        if smoke:  # one pair, the model only: the plumbing, not the numbers
            vis, ir = _linked_pairs(_first_pairs(vis, ir, 1), out / 'smoke_data' / name)
            methods = {}
        elif refs:
            for d in sorted((Path(refs) / name).glob('*')):
                if d.is_dir():
                    methods.setdefault(d.name, d)
        results[name] = compare(
            str(vis), str(ir),
            [('SSVIF-default', str(model))] + [(k, str(v)) for k, v in methods.items()],
            report / name, baselines=not smoke, progress=progress, grid_rows=0 if smoke else 3)
    return results


def evaluate_video(model: Path, out: Path, smoke: bool = False) -> Path:
    from evaluation.drive_quality import main as drive_main
    from simulation.drive import write_drive_bag
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    rig = default_rig()
    bag = out / 'synthetic' / 'drive'
    if not bag.exists():
        write_drive_bag(bag, rig, duration_s=0.5 if smoke else 8.0, rgb_hz=9.0, thermal_hz=9.0,
                        storage='mcap', seed=3, conditions=('day', 'night'))
    reg = out / 'synthetic' / 'registration.yaml'
    reg.parent.mkdir(parents=True, exist_ok=True)
    truth_registration(rig).save(reg)
    rc = drive_main(['--bag', str(bag), '--model', str(model), '--registration', str(reg),
                     '--normalization', 'running', 'percentile',
                     '--output', str(out / 'report' / 'drive')])
    if rc != 0:
        raise RuntimeError('evaluate_drive failed')
    return out / 'report' / 'drive' / 'summary.md'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'),
                    help='the shared data folder')
    ap.add_argument('--weights', default=str(REPO.parent / 'shared' / 'weights'),
                    help="the teachers' weights (labels only; never in the model)")
    ap.add_argument('--output', default=str(REPO / 'out' / 'default_model'),
                    help='work and report folder')
    ap.add_argument('--model-out', default=str(REPO / 'models' / 'ssvif_default.onnx'))
    ap.add_argument('--skip-eval', action='store_true', help='build the model only')
    ap.add_argument('--no-progress', action='store_true')
    ap.add_argument('--smoke', action='store_true',
                    help='every step at toy sizes (tests the plumbing in seconds)')
    args = ap.parse_args(argv)
    data, out, model = Path(args.data), Path(args.output), Path(args.model_out)
    weights = Path(args.weights)
    for need in ('ivf_roadscene221/train_split.txt', 'msrs_test_dev/labels', 'ivf_vifb21',
                 'ivf_roadscene50', 'ivf_seafusion_test12'):
        if not (data / need).exists():
            print(f'build_default_model: {data / need} is missing (--data points at the shared '
                  'data)', file=sys.stderr)
            return 2
    if not weights.is_dir():
        print(f'build_default_model: {weights} is missing (--weights points at the teachers)',
              file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    t0 = time.monotonic()
    summary: dict = {}
    train_names, val_names = msrs_split(args.smoke)
    with Step('1/7 fusion: SSVIF on RoadScene + MSRS training pairs'):
        fusion_ckpt, summary['fusion'] = train_fusion(data, out, progress, args.smoke)
    with Step('2/7 labels: teachers, boxes and thermal'):
        label_root, summary['labels'] = make_training_labels(data, weights, out, train_names,
                                                             progress, args.smoke)
    with Step('3/7 segmenters: the model and the comparison inputs'):
        seg_ckpt = out / 'segmenter.pt'
        jobs = {'model': (('fusion', str(fusion_ckpt)), seg_ckpt, ())}
        if not args.skip_eval:
            jobs.update(comparison_jobs(out))
        summary['segmenter'] = train_segmenters(jobs, data, label_root, train_names, progress,
                                                args.smoke)['model']
    with Step('4/7 export'):
        from training.export import main as export_main

        model.parent.mkdir(parents=True, exist_ok=True)
        bias, flip = recipe_decision()
        decision = (['--class-bias', *(f'{k}={v}' for k, v in bias.items())] if bias else [])
        decision.append('--flip-average' if flip else '--no-flip-average')
        if export_main(['--fusion', str(fusion_ckpt), '--segmenter', str(seg_ckpt),
                        '--output', str(model), *decision]) != 0:
            return 1
    if not args.skip_eval:
        with Step('5/7 comparison bundles: visible only, thermal only, max-luminance'):
            bundles = comparison_bundles(out)
        with Step('6/7 evaluation: masks on real boxes, fusion metrics, synthetic mIoU'):
            teachers = teacher_masks(data, weights, val_names, out)
            summary['segmentation'] = evaluate_masks(model, bundles, teachers, data, val_names,
                                                     out, progress)
            summary['compare'] = evaluate_fusion(model, data, out, val_names, progress,
                                                 args.smoke)
            summary['synthetic_miou'] = deployed_miou(model, synthetic_test_set(out, args.smoke))
        with Step('7/7 drive: flicker and colour'):
            summary['drive_report'] = str(evaluate_video(model, out, args.smoke))
    summary['stage_seconds'] = Step.timings
    summary['total_seconds'] = round(time.monotonic() - t0, 1)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2, default=str))
    print(f"\nbuild_default_model: {model} written; report in {out / 'report'}; "
          f"total {summary['total_seconds'] / 60:.1f} min")
    return 0


if __name__ == '__main__':
    sys.exit(main())
