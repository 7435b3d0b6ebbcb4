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
The report of scripts/compare_frameworks_real.py: tables, a paragraph written from them, pictures.

Every number of README.md comes from the runs passed in; the paragraph is
generated (which row is higher, by how much, against the seed spread), so
it never states more than the numbers do. Pictures show ivf_seafusion_test12
pairs only (MIT licence); the MSRS validation pairs have none and stay
out of the summary folder.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
import shutil

import numpy as np


GROUPS = ('person', 'car', 'bicycle')
#: frameworks whose training sees the image alone (no task loss, no labels): fusion for looks
FOR_LOOKS = ('Original SwinF.', 'Original EMMA')
LABEL_DECISION = (
    'Labels: `ssvif_make_labels` on the training pairs (teachers by day, boxes and the thermal '
    'image; training/labels/README.md). The supervised frameworks (MultiTaskVIF, SegMiF, '
    "SeAFusion's training, bi-level, CAF's loss search) train on them with their *set labels* "
    '(240-247, "background or one of these objects, which one unknown") mapped to ignore: '
    'their own losses are plain cross-entropy (+ Dice) over class ids and cannot read a set, '
    "and rewriting the papers' losses to `partial_label_ce` would change the methods being "
    'compared (`training.data.labelled.IgnoreSetLabels`). They learn from the pixels with one '
    'class: agreed teacher labels by day, box-derived objects day and night. The segmenter '
    'recipe that scores every row reads the set labels with `partial_label_ce`, the same for '
    'every row.')


def finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def stat(values) -> tuple[float, float | None, int] | None:
    """(mean, sample standard deviation or None for one value, n) of the finite values."""
    vals = [v for v in (finite(x) for x in values) if v is not None]
    if not vals:
        return None
    return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else None), \
        len(vals)


def fmt(s, digits: int = 2) -> str:
    if s is None:
        return '–'
    mean, sd, n = s
    return f'{mean:.{digits}f}' if sd is None else f'{mean:.{digits}f} ± {sd:.{digits}f} ({n})'


def by_row(runs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in runs:
        out.setdefault(r['row'], []).append(r)
    return out


def box_stat(rows: dict, row: str, subset: str, group: str, metric: str):
    return stat(r['box'][subset][group][metric] for r in rows.get(row, []))


def rows_table(rows: dict, order: list[str]) -> list[str]:
    """Return what each row trains: framework, network, channels, labels, seeds, seconds."""
    lines = ['| Row | framework | network | ch | labels | seeds | fusion L first -> last | '
             'minutes per run |', '|---' * 8 + '|']
    for row in order:
        r = rows[row][0]
        loss = r.get('train_L_fusion')
        lines.append(
            f'| {row} | {r.get("framework", "- (one-line rule)")} | {r.get("backbone", "-")} | '
            f'{r.get("channels", "-")} | {"yes" if r.get("labels") else "no"} | '
            f'{", ".join(str(x["seed"]) for x in rows[row])} | '
            f'{f"{loss[0]:.3g} -> {loss[1]:.3g}" if loss else "-"} | '
            f'{np.mean([x["seconds"] for x in rows[row]]) / 60:.1f} |')
    return lines + ['']


def segmentation_tables(rows: dict, order: list[str]) -> list[str]:
    lines = []
    for subset in ('night', 'day'):
        n = next(iter(rows.values()))[0]['box'][subset]['person']['images']
        lines += [f'### {subset.capitalize()} ({n} validation pairs)', '',
                  '| Row | ' + ' | '.join(f'{g} R | {g} P' for g in GROUPS) + ' |',
                  '|---' * (1 + 2 * len(GROUPS)) + '|']
        for row in order:
            cells = [fmt(box_stat(rows, row, subset, g, m))
                     for g in GROUPS for m in ('recall_tall', 'precision')]
            lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return lines


def fusion_tables(fusion: dict, rows: dict, order: list[str]) -> list[str]:
    from evaluation.compare import PAPER_METRICS

    lines = []
    for name, means in fusion.items():
        cols = [m for m in PAPER_METRICS if m in next(iter(means.values()))]
        lines += [f'### {name}', '', '| Row | ' + ' | '.join(cols) + ' |',
                  '|---' * (1 + len(cols)) + '|']
        for row in order:
            keys = [f'{row} [s{r["seed"]}]' for r in rows.get(row, [])]
            keys = keys if any(k in means for k in keys) else [row]
            if not any(k in means for k in keys):
                continue
            lines.append(f'| {row} | ' + ' | '.join(
                fmt(stat(means[k][c] for k in keys if k in means), 3) for c in cols) + ' |')
        lines.append('')
    return lines


def verdict(a, b, name_a: str, name_b: str) -> str:
    if a is None or b is None:
        return 'one of the two has no value here'
    diff = a[0] - b[0]
    spread = max(s for s in (a[1], b[1], 0.0) if s is not None)
    if a[1] is None or b[1] is None:
        return (f'{name_a} - {name_b} = {diff:+.2f} on one seed of one of them: no spread to '
                'judge it by')
    if abs(diff) > 2 * spread:
        return (f'{name_a} is {"higher" if diff > 0 else "lower"} by {abs(diff):.2f}, more than '
                f'twice the larger seed spread ({spread:.2f})')
    return (f'the difference ({diff:+.2f}) is within twice the larger seed spread '
            f'({spread:.2f}): no difference shown at this budget')


def paragraph(rows: dict, meta: dict) -> list[str]:
    """Return the comparison in words, generated from the numbers (no hand-written claim)."""
    ssvif = meta['ssvif']
    other = next((r for r in meta['seed_rows'] if r != ssvif), None)
    lines = []
    for subset in ('night', 'day'):
        for group in ('person', 'car'):
            get = lambda row: box_stat(rows, row, subset, group, 'recall_tall')  # noqa: E731
            looks = ', '.join(f'{r} {fmt(get(r))}' for r in FOR_LOOKS if r in rows)
            rules = ', '.join(f'{r} {fmt(get(r))}' for r in meta['one_line'] if r in rows)
            text = (f'- **{subset}, {group} recall** (boxes >= 24 px): {ssvif} '
                    f'{fmt(get(ssvif))}')
            if other:
                said = verdict(get(ssvif), get(other), ssvif, other)
                text += f' vs {other} {fmt(get(other))} ({said})'
            text += f'; fusion for looks: {looks}; the segmenter on {rules}.'
            lines.append(text)
    return lines


def mask_sheet(rows: dict, order: list[str], meta: dict, path: Path, width: int = 128) -> bool:
    """Fused input and mask of the first seed of every row on the picture pairs (MIT set)."""
    import cv2
    from ros2_ssvif.classes import FMB_PALETTE

    palette = np.zeros((256, 3), np.uint8)
    palette[:len(FMB_PALETTE)] = FMB_PALETTE
    strips = []
    for row in order:
        run = rows[row][0]
        pics = Path(run['segmenter']).parent / 'pictures'
        cells = []
        for name in meta['pictures']:
            img = cv2.imread(str(pics / f'{name}_input.png'))
            ids = cv2.imread(str(pics / f'{name}_ids.png'), cv2.IMREAD_UNCHANGED)
            if img is None or ids is None:
                return False
            colour = cv2.cvtColor(palette[ids], cv2.COLOR_RGB2BGR)
            size = (width, round(img.shape[0] * width / img.shape[1]))
            cells += [cv2.resize(img, size, interpolation=cv2.INTER_AREA),
                      cv2.resize(cv2.addWeighted(img, 0.4, colour, 0.6, 0), size,
                                 interpolation=cv2.INTER_NEAREST)]
        h = max(c.shape[0] for c in cells)
        label = np.full((h, 170, 3), 255, np.uint8)
        cv2.putText(label, row[:24], (4, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1,
                    cv2.LINE_AA)
        strips.append(np.concatenate([label] + [np.pad(c, ((0, h - c.shape[0]), (0, 2), (0, 0)),
                                                       constant_values=255) for c in cells], 1))
    cv2.imwrite(str(path), np.concatenate(strips, 0), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return True


def plain(obj):
    """JSON-ready copy: NaN -> None."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_summary(runs: list[dict], fusion: dict, summary: Path, out: Path, meta: dict) -> Path:
    """Write ``summary``/README.md, results.json and the pictures; returns the README."""
    summary.mkdir(parents=True, exist_ok=True)
    rows = by_row(runs)
    order = [r for r in meta['rows'] + meta['one_line'] if r in rows]
    b = meta['budget']
    spent = sum(r['seconds'] for r in runs)
    lines = [
        '# Frameworks on real pairs at CPU scale (Table III, real-data version)', '',
        f'Made by `{meta["command"]}` ({meta["seconds"] / 60:.0f} min for this invocation; the '
        f'{len(runs)} runs took {spent / 60:.0f} min in all, including runs kept from an earlier '
        f'invocation). Budget `{meta["budget_name"]}`: every framework trains {b["epochs"]} '
        f'epochs x {b["steps"]} steps, batch {b["batch"]}, {b["crop"]} px crops, lr 1e-3, on '
        f'the same {meta["n_train"]} real pairs ({meta["data"]}), networks at the CPU widths of '
        'scripts/compare_frameworks.py; '
        f'the segmenter recipe (config/training/default_segmenter.yaml) runs {b["seg_epochs"]} '
        "epochs on each row's fused training images. Each framework keeps its own best epoch "
        'by its own validation loss on 10 % of the training pairs. Seeds: '
        f'{meta["seeds"][0]} for every row, {", ".join(map(str, meta["seeds"][1:])) or "none"} '
        f'also for {", ".join(meta["seed_rows"])} (picked before any validation score: '
        'SSVIF and the other framework whose segmenter fits the dev blocks of the training '
        'pairs best). Cells: mean ± sample standard deviation (seeds), one number for one seed.',
        '', LABEL_DECISION, '', '## Rows', '',
        'Fusion L: the training fusion loss of the first and last epoch that train the fusion '
        "network (each framework's own loss: not comparable across rows).", '',
        *rows_table(rows, order),
        '## Segmentation on the MSRS validation pairs (real boxes)', '',
        f'Box recall of boxes >= 24 px tall (R) and pixel precision (P) on the {meta["n_val"]} '
        'validation pairs, never trained or selected on (evaluation/metrics/boxes.py). '
        '"visible only" / "thermal only": the same recipe on one camera (3 channels); '
        '"max-luminance": on the one-line rule.', '']
    lines += segmentation_tables(rows, order)
    lines += ['## What the numbers say (generated)', ''] + paragraph(rows, meta) + ['']
    lines += ['## Fusion metrics', '', 'compare_fusion (VIFB convention) of every row; '
              'visible-only, thermal-only, average, max and max-luminance are the one-line rules.',
              '']
    lines += fusion_tables(fusion, rows, list(dict.fromkeys(
        order + ['visible-only', 'thermal-only', 'average', 'max', 'max-luminance'])))
    grid = out / 'report' / 'fusion' / 'seafusion_test12' / 'grid.png'
    pics = []
    if grid.is_file():
        shutil.copy(grid, summary / 'fusion_seafusion_test12.png')
        pics.append('![fused images](fusion_seafusion_test12.png)')
    if mask_sheet(rows, order, meta, summary / 'masks_seafusion_test12.jpg'):
        pics.append('![masks](masks_seafusion_test12.jpg)')
    if pics:
        lines += ['## Pictures', '', "Fused images of every run, and each row's segmenter mask "
                  f'(FMB colours) on pairs {", ".join(meta["pictures"])}, first seed.', '',
                  *pics, '', 'Pairs from ivf_seafusion_test12 (Linfeng-Tang/VIF-Benchmark, MIT '
                  'licence). No MSRS validation image is shown.', '']
    lines += ['Numbers: [results.json](results.json).']
    (summary / 'README.md').write_text('\n'.join(lines) + '\n')
    keep = ('row', 'seed', 'framework', 'backbone', 'channels', 'labels', 'epochs',
            'segmenter_epochs', 'box', 'dev_score', 'caf_beta', 'train_L_fusion', 'seconds',
            'seconds_fusion', 'seconds_inputs', 'seconds_segmenter', 'seconds_score')
    (summary / 'results.json').write_text(json.dumps(plain({
        'meta': meta, 'runs': [{k: r[k] for k in keep if k in r} for r in runs],
        'fusion': fusion}), indent=1, default=str))
    return summary / 'README.md'
