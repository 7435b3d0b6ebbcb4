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
``evaluate_fusion``: score a folder of fused images against their sources.

    evaluate_fusion --thermal DIR --visible DIR --fused DIR --output FILE.csv
                        [--convention vifb|cddfuse] [--fused-suffix _SeAFusion]

Writes one CSV row per image (column ``image`` then the metrics of
``evaluation.metrics.METRICS``) and prints the mean and standard deviation
of each metric.  Bad input prints one line to stderr and exits with 2.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
import sys
import warnings

import numpy as np
from ros2_ssvif.cli import add_thermal_argument, run_command

from .io import InputError, match_triplets, read_image, read_ir_image
from .metrics import compute_all, CONVENTIONS, METRICS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='evaluate_fusion', description=__doc__.strip().split('\n')[0])
    add_thermal_argument(p, required=True, help='folder of thermal (infrared) source images')
    p.add_argument('--visible', required=True, help='folder of visible source images')
    p.add_argument('--fused', required=True, help='folder of fused images')
    p.add_argument('--output', required=True, help='CSV file to write')
    p.add_argument('--convention', default='vifb', choices=sorted(CONVENTIONS),
                   help='metric convention (default vifb; see evaluation/metrics/conventions.py)')
    p.add_argument(
        '--fused-suffix',
        default=None,
        help='fused stem = source stem + this (e.g. _SeAFusion); default: stem or stem_*',
    )
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def summarise(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """Metric -> (mean, population std) over rows, ignoring NaN."""
    out = {}
    for m in METRICS:
        v = np.array([r[m] for r in rows], dtype=float)
        v = v[~np.isnan(v)]
        out[m] = (float(v.mean()), float(v.std())) if v.size else (math.nan, math.nan)
    return out


def run(args: argparse.Namespace) -> list[dict]:
    from tqdm import tqdm

    triplets, missing = match_triplets(args.thermal, args.visible, args.fused,
                                       args.fused_suffix)
    if missing:
        print(f'evaluate_fusion: {len(missing)} source pair(s) have no fused image, skipped: '
              f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}", file=sys.stderr)
    rows = []
    for stem, ir_p, vis_p, f_p in tqdm(
        triplets, desc='evaluate_fusion', unit='img', disable=args.no_progress
    ):
        ir, vis, fused = read_ir_image(ir_p), read_image(vis_p), read_image(f_p)
        # keyed by role: the three files usually share one name (ir/a.png, vi/a.png, fused/a.png)
        sizes = {'ir': ir.shape[:2], 'visible': vis.shape[:2], 'fused': fused.shape[:2]}
        if len(set(sizes.values())) > 1:
            raise InputError(f'image sizes differ for {stem!r}: '
                             + ', '.join(f'{n} {h}x{w}' for n, (h, w) in sizes.items()))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            scores = compute_all(fused, ir, vis, convention=args.convention)
        for w in caught:
            print(f'evaluate_fusion: {stem}: {w.message}', file=sys.stderr)
        rows.append({'image': stem, **scores})
    return rows


def write_csv(rows: list[dict], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open('w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=['image', *METRICS])
        w.writeheader()
        for r in rows:
            w.writerow({k: (f'{v:.6f}' if isinstance(v, float) else v) for k, v in r.items()})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command('evaluate_fusion', lambda: _evaluate(args), errors=(TypeError,))


def _evaluate(args) -> int:
    rows = run(args)
    write_csv(rows, args.output)
    print(f'{len(rows)} image(s), convention {args.convention}, written to {args.output}')
    print(f"{'metric':<8} {'mean':>10} {'std':>10}")
    for m, (mean, std) in summarise(rows).items():
        print(f'{m:<8} {mean:>10.4f} {std:>10.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
