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
The end-to-end demo: the whole job on an embedded synthetic default.

    synthetic rig + drive -> calibrate -> register captures -> train SSVIF
    -> train the segmenter -> export ONNX -> fusion_node (rclpy, Fast DDS)
    on the replayed bag -> contact sheet, images, summary

Run it through ``scripts/demo.sh`` (installs first and keeps DDS on
loopback). Every stage uses the same public functions and commands a user
would; nothing here is demo-only logic except the choice of small sizes.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BOARD = 'chessboard:9x6:0.06'


class Step:
    """Prints and times one stage of the demo."""

    timings: dict[str, float] = {}

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        print(f'\n=== {self.name} ===', flush=True)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        dt = time.monotonic() - self.t0
        Step.timings[self.name] = round(dt, 1)
        print(f'--- {self.name}: {dt:.1f} s', flush=True)


def generate(out: Path, seed: int, n_captures: int, drive_s: float, storage: str) -> dict:
    from simulation.boards import write_board_captures
    from simulation.dataset import write_raw_captures
    from simulation.drive import write_drive_bag
    from simulation.rig import default_rig

    rig = default_rig()
    write_board_captures(out / 'calib', rig, BOARD, n_views=18, seed=seed)
    write_raw_captures(out / 'captures', rig, n_captures, seed=seed)
    bag = out / 'drive_bag'
    summary = write_drive_bag(bag, rig, duration_s=drive_s, storage=storage, seed=seed,
                              conditions=('day', 'night', 'fog', 'glare'))
    return {'bag': bag, 'drive': summary}


def run_node_on_bag(model: Path, registration: Path, bag: Path, out: Path, rate: float) -> dict:
    """
    Start the real fusion_node in its own process and replay the bag to it.

    The bag is replayed over DDS with /clock; what the node publishes is
    collected.
    """
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from ros2_ssvif.bag_player import play
    from ros2_ssvif.image_codec import image_to_array, stamp_seconds
    from sensor_msgs.msg import Image

    log = open(out / 'fusion_node.log', 'w')
    node = subprocess.Popen(
        [sys.executable, '-m', 'ros2_ssvif.fusion_node', '--ros-args',
         '--params-file', str(REPO / 'config' / 'fusion.yaml'),
         '-p', f'model_path:={model}', '-p', f'registration_file:={registration}',
         '-p', 'use_sim_time:=true', '-p', 'max_pending_pairs:=2'],
        stdout=log, stderr=subprocess.STDOUT)
    rclpy.init()
    received: dict[str, dict[float, np.ndarray]] = {'fused': {}, 'mask': {}}
    diags: list = []
    try:
        io = rclpy.create_node('ssvif_demo')
        ex = SingleThreadedExecutor()
        ex.add_node(io)
        io.create_subscription(Image, 'fused/image', lambda m: received['fused'].__setitem__(
            stamp_seconds(m.header), image_to_array(m)), 50)
        io.create_subscription(Image, 'segmentation/mask', lambda m: received['mask'].__setitem__(
            stamp_seconds(m.header), image_to_array(m)), 50)
        io.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)

        deadline = time.monotonic() + 60
        while not diags and time.monotonic() < deadline:  # the node reports once it is up
            ex.spin_once(timeout_sec=0.1)
            if node.poll() is not None:
                raise RuntimeError(f"fusion_node exited early, see {out / 'fusion_node.log'}")
        if not diags:
            raise RuntimeError('fusion_node did not come up within 60 s')
        player_node = rclpy.create_node('ssvif_demo_player')
        counts: dict = {}
        player = threading.Thread(target=lambda: counts.update(
            play(str(bag), ['/rgb/image_raw', '/thermal/image_raw'], rate=rate, clock=True,
                 start_delay=2.0, node=player_node)), daemon=True)
        player.start()
        while player.is_alive():
            ex.spin_once(timeout_sec=0.05)
        during = diags[-1]  # health while the bag played (it warns of silent cameras after)
        settle = time.monotonic() + 5.0  # let the last frames through the pipeline
        while time.monotonic() < settle:
            ex.spin_once(timeout_sec=0.05)
        n_diag = len(diags)
        while (
            len(diags) < n_diag + 2 and time.monotonic() < settle + 10
        ):  # a fresh report after the last frame
            ex.spin_once(timeout_sec=0.1)
        player_node.destroy_node()
        io.destroy_node()
    finally:
        rclpy.try_shutdown()
        node.terminate()
        try:
            node.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.kill()
        log.close()
    values = (
        {kv.key: kv.value for kv in named_status(diags[-1], 'fusion').values} if diags else {}
    )
    return {'published_by_player': counts, 'received': received, 'diagnostics': values,
            'status': describe_status(during), 'status_after': describe_status(diags[-1]),
            'registration': describe_status(during, 'registration')}


def named_status(report, part: str):
    """
    Return the status of one /diagnostics report whose name ends with ': PART'.

    The node reports several (inputs, fusion, registration): pick by name, never by position.
    """
    for st in report.status:
        if st.name.endswith(f': {part}'):
            return st
    raise KeyError(f'no {part!r} status in the /diagnostics report')


def describe_status(report, part: str = 'fusion') -> str:
    """Return one status of a /diagnostics report as 'LEVEL: message'."""
    st = named_status(report, part)
    level = st.level if isinstance(st.level, int) else int.from_bytes(st.level, 'little')
    name = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}.get(level, str(level))
    return f'{name}: {st.message}'


def contact_sheet(
    bag: Path, registration: Path, received: dict, palette, out: Path, rows: int = 4
) -> Path:
    """Visible | thermal | fused | mask, registered, for frames spread over the drive."""
    from ros2_ssvif.bag_io import iter_messages
    from ros2_ssvif.image_codec import image_to_array, stamp_seconds
    from ros2_ssvif.pipeline import colorize_mask
    from ros2_ssvif.registration import load_registration
    from ros2_ssvif.thermal import ThermalNormalizer

    maps = load_registration(registration).build_maps()
    stamps = sorted(set(received['fused']) & set(received['mask']))
    if not stamps:
        raise RuntimeError('the node published nothing: no contact sheet')
    pick = [stamps[int(i)] for i in np.linspace(0, len(stamps) - 1, min(rows, len(stamps)))]
    vis_by, th_list = {}, []
    for topic, _, msg in iter_messages(bag, ['/rgb/image_raw', '/thermal/image_raw']):
        s = stamp_seconds(msg.header)
        if topic == '/rgb/image_raw' and any(abs(s - p) < 1e-6 for p in pick):
            vis_by[s] = image_to_array(msg)
        elif topic == '/thermal/image_raw':
            th_list.append((s, msg))
    norm = ThermalNormalizer('percentile')  # display only: each sheet row stretched on its own
    tiles = []
    for p in pick:
        vis = next(v for s, v in vis_by.items() if abs(s - p) < 1e-6)
        thr_msg = min(th_list, key=lambda sm: abs(sm[0] - p))[1]
        v_reg, t_reg = maps.register_pair(vis, image_to_array(thr_msg))
        t8 = (norm(t_reg) * 255).astype(np.uint8)
        t_rgb = cv2.cvtColor(cv2.applyColorMap(t8, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
        fused = received['fused'][p]
        mask = colorize_mask(received['mask'][p], palette)
        overlay = cv2.addWeighted(fused, 0.45, mask, 0.55, 0)
        row = [v_reg, t_rgb, fused, overlay]
        h = 240
        row = [
            cv2.resize(im, (int(im.shape[1] * h / im.shape[0]), h), interpolation=cv2.INTER_AREA)
            for im in row
        ]
        tiles.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(tiles, axis=0)
    header = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    w4 = sheet.shape[1] // 4
    for i, text in enumerate(
        ('visible (registered)', 'thermal (registered)', 'fused', 'segmentation')
    ):
        cv2.putText(
            header,
            text,
            (i * w4 + 8, 20),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    sheet = np.concatenate([header, sheet], axis=0)
    path = out / 'contact_sheet.png'
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--output', default='demo_output')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument(
        '--captures', type=int, default=120, help='labelled synthetic captures for training'
    )
    ap.add_argument('--drive-seconds', type=float, default=8.0)
    ap.add_argument('--storage', choices=('sqlite3', 'mcap'), default='mcap')
    ap.add_argument(
        '--rate',
        type=float,
        default=0.5,
        help='bag replay rate (0.5: the CPU-only demo machine keeps up with most pairs)',
    )
    ap.add_argument(
        '--fresh', action='store_true', help='replace the output of an earlier demo run'
    )
    args = ap.parse_args(argv)
    for var in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'FASTDDS_DEFAULT_PROFILES_FILE'):
        if not os.environ.get(var):
            print(
                f'run_demo: {var} is not set: run the demo through scripts/demo.sh',
                file=sys.stderr,
            )
            return 2
    out = Path(args.output).resolve()
    marker = out / '.ssvif_demo_output'
    if args.fresh and marker.exists():  # only ever delete a folder an earlier demo made
        shutil.rmtree(out)
    if out.exists() and any(out.iterdir()):
        hint = (
            'use --fresh to replace it'
            if marker.exists()
            else 'it was not made by the demo; pick another --output'
        )
        print(f'run_demo: {out} is not empty; {hint}', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text('made by scripts/run_demo.py; --fresh may delete this folder\n')
    t_start = time.monotonic()

    with Step('1/7 synthetic rig, calibration board, captures and drive bag'):
        gen = generate(
            out / 'synthetic', args.seed, args.captures, args.drive_seconds, args.storage
        )

    with Step('2/7 calibrate (FMB pipeline: intrinsics, joint pose, RANSAC homography, crop)'):
        from calibration.cli import main as calibrate_main

        rc = calibrate_main(['--visible', str(out / 'synthetic/calib/visible'),
                             '--thermal', str(out / 'synthetic/calib/thermal'), '--board', BOARD,
                             '--plane-distance', '12', '--output-size', '640x480',
                             '--output', str(out / 'calibration')])
        if rc != 0:
            return rc
        registration = out / 'calibration' / 'registration.yaml'

    with Step('3/7 register the raw captures into a training set'):
        from calibration.register_cli import main as register_main

        rc = register_main(['--calibration', str(out / 'calibration'),
                            '--visible', str(out / 'synthetic/captures/visible'),
                            '--thermal', str(out / 'synthetic/captures/thermal'),
                            '--labels', str(out / 'synthetic/captures/labels'),
                            '--output', str(out / 'dataset')])
        if rc != 0:
            return rc

    with Step('4/7 train the fusion model with SSVIF (small, brief)'):
        fusion_ckpt = train_fusion(out)

    with Step('5/7 train the segmenter on fused images'):
        seg_ckpt = train_seg(out, fusion_ckpt)

    with Step('6/7 export one ONNX graph (visible, thermal) -> (fused, class ids)'):
        from training.export import main as export_main

        model = out / 'model' / 'ssvif_demo.onnx'
        rc = export_main(
            ['--fusion', str(fusion_ckpt), '--segmenter', str(seg_ckpt), '--output', str(model)]
        )
        if rc != 0:
            return rc

    with Step('7/7 fusion_node on the replayed bag (rclpy + Fast DDS, two processes)'):
        run = run_node_on_bag(model, registration, gen['bag'], out, args.rate)

    return report(out, gen, run, model, registration, time.monotonic() - t_start)


def train_fusion(out: Path) -> Path:
    from training.config import load_config
    from training.trainer import train

    # config/training/demo.yaml is the tiny CI run; the demo trains a little longer on bigger crops
    cfg = load_config(
        REPO / 'config' / 'training' / 'demo.yaml',
        [
            'data.kind=synthetic_folder',
            f'data.root={out / "dataset"}',
            'data.crop=160',
            'data.batch_size=8',
            'model.backbone_kwargs={}',
            'epochs=6',
            'stage1_max_epochs=4',
            'max_steps_per_epoch=10',
            # the default model's design (config/training/default_model.yaml): luma fused as a
            # weight map and residual on the sources, visible colour carried; a 3-channel
            # network this brief comes out grey
            'model.in_channels=1',
            'model.output=blend',
            'optim.lr=2e-3',  # the paper's 1e-4 needs far more steps than a demo has
            f'output_dir={out / "training" / "ssvif"}',
        ],
    )
    result = train(cfg)
    print(
        f'stage II from epoch {result.stage_switch_epoch}; '
        + ', '.join(
            f'e{h["epoch"]}(stage {h["stage"]}) L_fusion={h["train_L_fusion"]:.3f}'
            for h in result.history
        )
    )
    return Path(result.best_checkpoint or result.last_checkpoint)


def train_seg(out: Path, fusion_ckpt: Path) -> Path:
    from training.checkpoint import load_fusion_model
    from training.data.pairs import LabelledPairs, split_pairs
    from training.segmenter import SegmenterConfig, train_segmenter

    fusion, _ = load_fusion_model(fusion_ckpt)
    data = LabelledPairs.from_layout('synthetic_folder', out / 'dataset')
    tr, va = split_pairs(list(range(len(data))), 0.1, seed=0)
    from torch.utils.data import Subset

    # small and brief: the compact CNN segmenter at half resolution (SegFormer-B3, the paper's
    # choice, needs far more than a CPU minute from scratch); no frozen phase without pretraining
    cfg = SegmenterConfig(
        variant='compact',
        epochs=8,
        batch_size=8,
        freeze_epochs=0,
        lr=3e-3,
        crop=256,
        max_steps_per_epoch=15,
        patience=8,
        scale=0.5,
    )
    res = train_segmenter(
        fusion, Subset(data, tr), Subset(data, va), cfg, out / 'training' / 'segmenter.pt'
    )
    print(
        'segmenter: '
        + ', '.join(
            f'e{h["epoch"]} loss={h["loss"]:.3f} mIoU={h.get("val_miou", float("nan")):.3f}'
            for h in res.history
        )
    )
    return res.checkpoint


def report(
    out: Path, gen: dict, run: dict, model: Path, registration: Path, total_s: float
) -> int:
    from ros2_ssvif.model_runner import FusionSegmenter

    meta = FusionSegmenter(model).metadata
    received = run['received']
    for kind, folder in (('fused', 'fused'), ('mask', 'masks')):
        (out / folder).mkdir(exist_ok=True)
        for s, img in sorted(received[kind].items()):
            name = f'{s:.6f}.png'
            cv2.imwrite(
                str(out / folder / name),
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img,
            )
    sheet = contact_sheet(gen['bag'], registration, received, meta.palette, out)
    d = run['diagnostics']
    lat = {
        k.split('.')[1] + '.' + k.split('.')[2]: float(v)
        for k, v in d.items()
        if k.startswith('latency_ms.')
    }
    summary = {
        'frames_in': {
            'visible': int(d.get('count.visible_in', 0)),
            'thermal': int(d.get('count.thermal_in', 0)),
        },
        'pairs': int(d.get('count.pairs', 0)),
        'published': int(d.get('count.published', 0)),
        'received_by_demo': {'fused': len(received['fused']), 'mask': len(received['mask'])},
        'dropped': {
            k.split('.', 1)[1].replace('.', '_'): int(v)
            for k, v in d.items()
            if k.startswith(('dropped_frames.', 'dropped_pairs.'))
        },
        'latency_ms': lat,
        'node_status': run['status'],
        'node_status_after': run['status_after'],
        'registration_status': run['registration'],
        'bag': {'path': str(gen['bag']), 'messages_replayed': run['published_by_player']},
        'stage_seconds': Step.timings,
        'total_seconds': round(total_s, 1),
        'contact_sheet': str(sheet),
    }
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    lines = [
        '# ros2_ssvif demo summary',
        '',
        f'- frames in: {summary["frames_in"]["visible"]} visible, '
        f'{summary["frames_in"]["thermal"]} thermal',
        f'- pairs made: {summary["pairs"]}; published: {summary["published"]}; '
        f'received by the demo: {summary["received_by_demo"]["mask"]}',
        f'- frames dropped: {sum(summary["dropped"].values())} {summary["dropped"]}',
        f'- node status while the bag played: {summary["node_status"]}; '
        f'after it ended: {summary["node_status_after"]}',
        f'- registration while the bag played: {summary["registration_status"]}',
        '',
        '| stage | mean ms | p95 ms |',
        '|---|---|---|',
    ]
    for stage in ('decode', 'register', 'infer', 'encode', 'publish', 'total'):
        if f'{stage}.mean' in lat:
            lines.append(f"| {stage} | {lat[f'{stage}.mean']:.1f} | {lat[f'{stage}.p95']:.1f} |")
    lines += ['', '| demo step | seconds |', '|---|---|'] + [
        f'| {k} | {v} |' for k, v in Step.timings.items()
    ]
    lines += ['', f'total: {total_s:.0f} s', '', f'![contact sheet]({sheet.name})']
    (out / 'summary.md').write_text('\n'.join(lines) + '\n')
    print('\n' + '\n'.join(lines[:7]))
    print(f"\ncontact sheet: {sheet}\nsummary: {out / 'summary.md'}")
    return 0 if summary['published'] > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
