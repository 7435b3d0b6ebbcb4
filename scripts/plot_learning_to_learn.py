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
Tables and plots of a CAF loss search and a bi-level run, from their ``scalars.csv`` logs.

    python scripts/plot_learning_to_learn.py --search out/caf/search \
        --bilevel out/bilevel_roadscene \
        [--bilevel out/bilevel_synthetic] --output docs/results/learning_to_learn_cpu

Writes ``beta_trajectory.csv``/``.png`` (beta of every searched term after each search epoch,
and the epoch means of the outer loss before/after each beta step) and, per bi-level run,
``upper_loss_<name>.csv``/``.png`` (epoch means of the upper objective(s) and of the pixel loss,
warm-start epochs marked). Only numbers derived from the logs are written.
"""
from __future__ import annotations

import argparse
from collections import defaultdict
import csv
from pathlib import Path
import sys

from ros2_ssvif.cli import run_command


def read_epochs(run: Path) -> dict[int, dict[str, float]]:
    """Epoch -> {key: value} of the ``epoch`` rows of ``run/scalars.csv``."""
    out: dict[int, dict[str, float]] = defaultdict(dict)
    with open(run / 'scalars.csv', newline='') as f:
        for r in csv.DictReader(f):
            if r['scope'] == 'epoch':
                out[int(r['epoch'])][r['key']] = float(r['value'])
    return dict(out)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def beta_report(search: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ep = read_epochs(search)
    epochs = sorted(ep)
    terms = [k[len('beta_'):] for k in ep[epochs[-1]] if k.startswith('beta_')]
    n = len(terms)
    rows = [[0] + [round(1.0 / n, 5)] * n + ['', '']]
    for e in epochs:
        rows.append([e] + [round(ep[e][f'beta_{t}'], 5) for t in terms]
                    + [round(ep[e].get('mean_L_outer_before', float('nan')), 5),
                       f"{ep[e].get('mean_L_outer_change', float('nan')):.3e}"])
    write_csv(
        out / 'beta_trajectory.csv',
        ['epoch'] + terms + ['outer_loss', 'outer_change_per_step'],
        rows,
    )
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    xs = [0] + epochs
    colors = plt.get_cmap('tab20').colors
    for i, t in enumerate(terms):
        ax[0].plot(xs, [r[1 + i] for r in rows], label=t, lw=1.5, color=colors[i % len(colors)],
                   ls='--' if t.endswith('_vis') else '-')
    ax[0].set_xlabel('search epoch')
    ax[0].set_ylabel('beta')
    ax[0].legend(fontsize=7, ncol=2)
    ax[0].set_title('beta (start: uniform)')
    ax[1].plot(epochs, [ep[e]['mean_L_outer_before'] for e in epochs], marker='o')
    ax[1].set_xlabel('search epoch')
    ax[1].set_ylabel('outer (task) loss, epoch mean')
    ax[1].set_title("segmentation cross-entropy at w'(beta)")
    fig.tight_layout()
    fig.savefig(out / 'beta_trajectory.png', dpi=80)
    plt.close(fig)
    return out / 'beta_trajectory.csv'


def upper_report(run: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ep = read_epochs(run)
    epochs = sorted(ep)
    keys = [k for k in ('train_L_upper', 'train_L_visual', 'train_L_perception', 'train_L_fusion',
                        'val_L_fusion', 'val_L_perception') if any(k in ep[e] for e in epochs)]
    rows = [
        [e, int(ep[e].get('stage', 0))] + [round(ep[e][k], 6) if k in ep[e] else '' for k in keys]
        for e in epochs
    ]
    name = run.name
    write_csv(out / f'upper_loss_{name}.csv', ['epoch', 'stage'] + keys, rows)
    groups = [[k for k in keys if 'perception' not in k], [k for k in keys if 'perception' in k]]
    groups = [g for g in groups if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    warm = [e for e in epochs if ep[e].get('stage') == 1]
    for ax, group in zip(axes[0], groups):
        for k in group:
            pts = [(e, ep[e][k]) for e in epochs if k in ep[e]]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='o', label=k)
        if warm:
            ax.axvspan(min(warm) - 0.5, max(warm) + 0.5, color='0.9', label='warm start')
        ax.set_xlabel('epoch')
        ax.legend(fontsize=7)
    axes[0][0].set_title(f'bi-level run {name}: pixel / visual upper loss')
    if len(groups) > 1:
        axes[0][1].set_title('perception upper loss (cross-entropy)')
    fig.tight_layout()
    fig.savefig(out / f'upper_loss_{name}.png', dpi=80)
    plt.close(fig)
    return out / f'upper_loss_{name}.csv'


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--search', type=Path, help='output folder of a loss search (has scalars.csv)')
    p.add_argument('--bilevel', type=Path, action='append', default=[], help='bi-level run folder')
    p.add_argument('--output', type=Path, required=True)
    args = p.parse_args(argv)

    def reports() -> None:
        args.output.mkdir(parents=True, exist_ok=True)
        if args.search:
            print(beta_report(args.search, args.output))
        for run in args.bilevel:
            print(upper_report(run, args.output))

    return run_command('plot_learning_to_learn', reports, errors=(KeyError,), plain=True)


if __name__ == '__main__':
    sys.exit(main())
