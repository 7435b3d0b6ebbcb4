# noqa: A005 (always imported as training.logging, never run from its folder)
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
Training logs without tensorboard: long-format CSV scalars and per-epoch picture grids.

Why long format (``scope,epoch,step,key,value``): the set of scalars changes
with the stage and the weighting strategy (no L_csc in Stage I, GDWA's
lambdas only with GDWA), and one row per value needs no fixed header; it
loads straight into pandas (``pivot``) or a spreadsheet.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch


__all__ = ['ScalarLogger', 'save_picture_grid']

HEADER = ('scope', 'epoch', 'step', 'key', 'value')


class ScalarLogger:
    """Append scalars to ``path`` (created with a header); ``truncate_after`` for resumes."""

    def __init__(self, path: str | Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists() or self.path.stat().st_size == 0:
                with open(self.path, 'w', newline='') as f:
                    csv.writer(f).writerow(HEADER)

    def log(self, scope: str, epoch: int, step: int, values: Mapping[str, float | None]) -> None:
        if not self.enabled:
            return
        with open(self.path, 'a', newline='') as f:
            w = csv.writer(f)
            for k, v in values.items():
                if v is None:
                    continue
                v = float(v)
                w.writerow(
                    (scope, int(epoch), int(step), k, repr(v) if math.isfinite(v) else str(v))
                )

    def truncate_after(self, epoch: int) -> None:
        """Drop rows of epochs > ``epoch`` (written by a run killed mid-epoch before resuming)."""
        if not self.enabled or not self.path.exists():
            return
        with open(self.path, newline='') as f:
            rows = list(csv.reader(f))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[1]) <= epoch]
        tmp = self.path.with_suffix('.tmp')
        with open(tmp, 'w', newline='') as f:
            csv.writer(f).writerows(keep)
        tmp.replace(self.path)

    def read(self) -> list[dict]:
        """All rows as dicts with ``value`` as float (for tests and quick plots)."""
        with open(self.path, newline='') as f:
            return [dict(r, epoch=int(r['epoch']), step=int(r['step']), value=float(r['value']))
                    for r in csv.DictReader(f)]


def _to_image(t: torch.Tensor) -> np.ndarray:
    a = t.detach().float().cpu().clamp(0, 1).numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def save_picture_grid(path: str | Path, rows: Sequence[Mapping[str, torch.Tensor]],
                      names: Sequence[str] = (), title: str = '') -> Path:
    """One row per sample, columns visible | thermal | fused (tensors (C,H,W) in [0,1])."""
    import matplotlib

    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    cols = ('visible', 'thermal', 'fused')
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 3, figsize=(9, 3 * n), squeeze=False)
    for i, row in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i][j]
            img = _to_image(row[c])
            ax.imshow(img, cmap='gray' if img.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(c)
            if j == 0 and i < len(names):
                ax.set_ylabel(str(names[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
