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
Training throughput on CPU: Stage I vs Stage II, and GDWA's overhead vs fixed weighting.

Not a test. Numbers are reported as RATIOS measured in one run, because the
absolute samples/s on a shared CPU change with load; the ratios say what the
SSVIF branches and GDWA's per-task gradients cost relative to plain fusion
training. The three configurations of one (backbone, SegFormer) pair run the real
trainer step (``Trainer.step``) round-robin, one step each in turn, so a
load spike hits all three; ``--warmup`` rounds are untimed and the median of
``--steps`` timed steps gives samples/s.

    .venv/bin/python benchmarks/bench_training.py [--crop 64 --batch 2 --steps 3]

Appends a dated markdown table to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time

import torch


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_table import append_section  # noqa: E402, I100
from training.config import load_config  # noqa: E402
from training.distributed import DistContext  # noqa: E402
from training.trainer import Trainer  # noqa: E402


class _Random(torch.utils.data.Dataset):

    def __init__(self, n: int, size: int):
        g = torch.Generator().manual_seed(0)
        self.v, self.t = (
            torch.rand(n, 3, size, size, generator=g),
            torch.rand(n, 1, size, size, generator=g),
        )

    def __len__(self):
        return len(self.v)

    def __getitem__(self, i):
        return {'visible': self.v[i], 'thermal': self.t[i], 'name': str(i)}


def _trainer(
    backbone: str, segformer: str, weighting: str, stage: int, args
) -> tuple[Trainer, dict]:
    """
    Return a Trainer in ``stage`` and a batch.

    Grad analysis off: only what the weighting itself needs.
    """
    cfg = load_config(
        None,
        [
            f'model.backbone={backbone}',
            f'model.segformer={segformer}',
            f'weighting.name={weighting}',
            'weighting.options={}',
            'grad_analysis=false',
            f'data.crop={args.crop}',
            'device=cpu',
            'output_dir=/tmp/ssvif_bench',
            'framework=' + ('ssvif' if stage == 2 else 'original'),
        ],
    )
    ds = _Random(args.batch, args.crop)
    tr = Trainer(cfg, datasets=(ds, ds), progress=False, dist=DistContext())
    if stage == 2:
        tr.enter_stage(2, first_epoch=1)
    return tr, {'visible': ds.v, 'thermal': ds.t, 'name': [str(i) for i in range(args.batch)]}


def _rates(backbone: str, segformer: str, args) -> tuple[float, float, float]:
    """
    Measure the samples/s of Stage I, Stage II fixed, Stage II GDWA.

    Timed round-robin one step at a time (so all three see the same machine load) and
    summarised by the median step time.
    """
    runs = [
        _trainer(backbone, segformer, 'fixed', 1, args),
        _trainer(backbone, segformer, 'fixed', 2, args),
        _trainer(backbone, segformer, 'gdwa', 2, args),
    ]
    times: list[list[float]] = [[] for _ in runs]
    for r in range(args.warmup + args.steps):
        for i, (tr, batch) in enumerate(runs):
            t0 = time.perf_counter()
            tr.step(batch)
            dt = time.perf_counter() - t0
            tr.loop.global_step += 1
            if r >= args.warmup:
                times[i].append(dt)
    return tuple(args.batch / statistics.median(t) for t in times)  # type: ignore[return-value]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--backbones', nargs='+', default=['realtime', 'seafusion'])
    p.add_argument('--segformers', nargs='+', default=['tiny', 'b3'])
    p.add_argument('--crop', type=int, default=64)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--steps', type=int, default=7)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--no-write', action='store_true')
    args = p.parse_args(argv)
    rows = []
    for bb in args.backbones:
        for sf in args.segformers:
            s1, fixed, gdwa = _rates(bb, sf, args)
            rows.append((bb, sf, s1, fixed, gdwa))
            print(
                f'{bb:10s} {sf:5s} stageI {s1:7.2f}/s  stageII fixed {fixed:7.2f}/s  '
                f'gdwa {gdwa:7.2f}/s  '
                f'II/I {fixed / s1:.3f}  gdwa/fixed time {fixed / gdwa:.3f}',
                flush=True,
            )
    table = [
        {
            'backbone': bb,
            'SegFormer': sf,
            'Stage I samples/s': s1,
            'Stage II (fixed) samples/s': fixed,
            'Stage II (GDWA) samples/s': gdwa,
            'Stage II / Stage I throughput': fixed / s1,
            'GDWA / fixed step time': fixed / gdwa,
        }
        for bb, sf, s1, fixed, gdwa in rows
    ]
    notes = (
        f'Crop {args.crop}x{args.crop}, batch {args.batch}, '
        f'median of {args.steps} round-robin timed steps '
        f'after {args.warmup} warm-up, random tensors; torch {torch.__version__}, '
        f'{torch.get_num_threads()} threads.'
    )
    if not args.no_write:
        print(
            append_section(
                'training throughput: stage I vs stage II, GDWA vs fixed weighting',
                'python benchmarks/bench_training.py ' + ' '.join(argv or sys.argv[1:]),
                table,
                notes,
            )
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
