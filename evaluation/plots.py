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
Pictures for a fusion comparison: metric distributions and a side-by-side grid.

Kept apart from ``compare.py`` so the numbers never depend on matplotlib;
the Agg backend is forced because reports are made on headless machines.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import cv2
import matplotlib


matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


__all__ = ['distributions_plot', 'grid_plot', 'fit_width']


def distributions_plot(
    values: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: Sequence[str],
    path: str | Path,
    lower_is_better: Sequence[str] = ('DeltaE',),
    columns: int = 4,
) -> Path:
    """
    One panel per metric: a box per method with the per-image values jittered on top.

    ``values[method][metric]`` is the list of per-image scores; NaNs are dropped.
    """
    methods = list(values)
    rows = -(-len(metrics) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.9 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # fixed jitter: the same data gives the same picture
    for ax, metric in zip(axes.flat, metrics):
        data = [
            np.asarray([v for v in values[m][metric] if np.isfinite(v)], float) for m in methods
        ]
        ax.boxplot(data, showfliers=False, widths=0.6)
        for i, d in enumerate(data, start=1):
            ax.plot(
                i + rng.uniform(-0.18, 0.18, d.size), d, '.', ms=4, alpha=0.6, color='tab:blue'
            )
        better = 'lower' if metric in lower_is_better else 'higher'
        ax.set_title(f'{metric} ({better} is better)', fontsize=9)
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=45, ha='right', fontsize=7)
        ax.tick_params(axis='y', labelsize=7)
        ax.grid(axis='y', alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis('off')
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def fit_width(image: np.ndarray, width: int) -> np.ndarray:
    """Area-downscale (never upscale) to ``width`` px; grey becomes 3-channel for imshow."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(
            image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA
        )
    return image


def grid_plot(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]],
    columns: Sequence[str],
    path: str | Path,
    cell_width: int = 200,
) -> Path:
    """
    Scenes as rows, sources and methods as columns; each cell downscaled to ``cell_width``.

    ``rows`` is [(scene name, [image per column])] with uint8 RGB or grey images.
    """
    cells = [[fit_width(img, cell_width) for img in imgs] for _, imgs in rows]
    aspect = max(c.shape[0] / c.shape[1] for row in cells for c in row)
    dpi = 100
    cw = cell_width / dpi
    fig, axes = plt.subplots(len(rows), len(columns), squeeze=False,
                             figsize=(cw * len(columns), (cw * aspect + 0.25) * len(rows) + 0.1))
    for r, ((name, _), row) in enumerate(zip(rows, cells)):
        for c, img in enumerate(row):
            ax = axes[r][c]
            ax.imshow(img, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.99, top=1 - 0.3 / fig.get_figheight(), bottom=0.01,
                        wspace=0.03, hspace=0.03)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
