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
Make the segmenter's training labels for real pairs: the engine of ``ssvif_make_labels``.

    ssvif_make_labels --boxes ../shared/data/msrs_test_dev \
        --boxes-list config/data/msrs_test_dev_train.txt \
        --pairs ../shared/data/ivf_roadscene221 --pairs-list train_split.txt \
        --weights ../shared/weights --output out/labels

Offline and at training time only (the teachers are Cityscapes networks
and ai-edge-litert, never runtime dependencies). For every listed pair it
writes ``OUTPUT/<set>/NAME.png`` (uint8 labels: class ids, 240-247 set
labels such as "no object", 255 ignore; ``training.labels``), keeps the teachers' answers in
``OUTPUT/teachers/<teacher>/<set>/NAME.npz`` (so a rerun with other rules
costs seconds), and writes ``OUTPUT/report.md`` with the label statistics
and ``OUTPUT/labels.png``, a contact sheet of labels over their images.

Day and night: the teachers label only frames whose visible camera they can
trust (``is_day``: the MSRS name's D/N tag, else the visible image's mean
brightness); at night only boxes and the thermal image make labels
(training/labels/README.md has the measurements behind this). The command
is :mod:`training.labels.cli`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import json
from pathlib import Path
from typing import Sequence

import cv2
from evaluation.metrics.boxes import load_boxes
import numpy as np
from ros2_ssvif.classes import FMB_CLASSES, FMB_PALETTE, IGNORE_INDEX
from ros2_ssvif.image_files import images_by_stem

from . import GROUP_BITS, SET_BASE
from .compose import compose_label, LabelRule


__all__ = ['DAY_BRIGHTNESS', 'LabelSet', 'cached_teacher', 'is_day', 'make_labels',
           'max_luminance']

#: mean grey level of the visible image above which a frame without a D/N tag counts as day
DAY_BRIGHTNESS = 60.0


@dataclass(frozen=True)
class LabelSet:
    """One data set to label: ``vi/`` + ``ir/`` under ``root``, boxes under ``root/labels``."""

    name: str
    root: Path
    names: tuple[str, ...]
    boxes: bool


def is_day(name: str, visible: np.ndarray) -> bool:
    """MSRS names end in D or N; other frames are day when the visible image is bright enough."""
    tag = Path(name).stem[-1:].upper()
    if tag in ('D', 'N') and Path(name).stem[:-1].isdigit():
        return tag == 'D'
    return float(cv2.cvtColor(visible, cv2.COLOR_RGB2GRAY).mean()) >= DAY_BRIGHTNESS


def cached_teacher(teacher, rgb: np.ndarray, cache: Path | None):
    """``teacher.predict(rgb)``, kept in ``cache`` (an .npz path) when given."""
    from training.teachers import TeacherOutput

    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return TeacherOutput(z['fmb_ids'], z['confidence'].astype(np.float32),
                                 z['cityscapes_ids'])
    out = teacher.predict(rgb)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, fmb_ids=out.fmb_ids, cityscapes_ids=out.cityscapes_ids,
                            confidence=out.confidence.astype(np.float16))
    return out


def max_luminance(visible: np.ndarray, thermal: np.ndarray) -> np.ndarray:
    """Return the one-line rule's image: visible colour, luma max(Y, thermal) (uint8 RGB)."""
    y = cv2.cvtColor(visible, cv2.COLOR_RGB2YCrCb)
    y[..., 0] = np.maximum(y[..., 0], thermal)
    return cv2.cvtColor(y, cv2.COLOR_YCrCb2RGB)


def read_pair(root: Path, name: str, files: dict) -> tuple[np.ndarray, np.ndarray]:
    """Visible RGB uint8 and thermal grey uint8 of one pair (8-bit sets: the label images)."""
    vis = cv2.imread(str(files['vi'][name]), cv2.IMREAD_COLOR)
    thr = cv2.imread(str(files['ir'][name]), cv2.IMREAD_GRAYSCALE)
    if vis is None or thr is None:
        raise ValueError(f'{root}: cannot read the pair {name}')
    if vis.shape[:2] != thr.shape[:2]:
        raise ValueError(f'{root}: pair {name} sizes differ {vis.shape[:2]} vs {thr.shape[:2]}')
    return cv2.cvtColor(vis, cv2.COLOR_BGR2RGB), thr


def make_labels(sets: Sequence[LabelSet], teachers: Sequence, output: str | Path,
                rule: LabelRule = LabelRule(), progress: bool = True) -> dict:
    """Write the labels of every set (module docstring); returns the statistics."""
    from tqdm import tqdm

    output = Path(output)
    stats: dict = {}
    for ls in sets:
        files = {k: images_by_stem(ls.root / k) for k in ('vi', 'ir')}
        missing = [n for n in ls.names if n not in files['vi'] or n not in files['ir']]
        if missing:
            raise ValueError(
                f'{ls.root}: {len(missing)} listed pair(s) missing, e.g. {missing[0]}')
        s = stats[ls.name] = {'day': 0, 'night': 0, 'sources': Counter(),
                              'pixels': Counter(), 'total_pixels': 0}
        (output / ls.name).mkdir(parents=True, exist_ok=True)
        for name in tqdm(ls.names, desc=f'labels {ls.name}', disable=not progress):
            vis, thr = read_pair(ls.root, name, files)
            day = is_day(name, vis)
            s['day' if day else 'night'] += 1
            outs = [cached_teacher(t, vis, output / 'teachers' / t.name / ls.name / f'{name}.npz')
                    for t in teachers] if day else None
            boxes = (load_boxes(ls.root, name, vis.shape[1], vis.shape[0]) if ls.boxes
                     else None)
            night = None
            if not day and boxes and rule.night_car_teacher:
                night = [cached_teacher(t, max_luminance(vis, thr), output / 'teachers' / t.name
                                        / f'{ls.name}_maxlum' / f'{name}.npz')
                         for t in teachers if t.name == rule.night_car_teacher]
                if not night:
                    raise ValueError(f'night_car_teacher {rule.night_car_teacher!r} is not one '
                                     f'of the teachers ({", ".join(t.name for t in teachers)})')
            label, sources = compose_label(vis.shape[:2], thr, outs, boxes, rule, night)
            cv2.imwrite(str(output / ls.name / f'{name}.png'), label)
            s['sources'].update(sources)
            ids, counts = np.unique(label, return_counts=True)
            s['pixels'].update({int(i): int(c) for i, c in zip(ids, counts)})
            s['total_pixels'] += label.size
    return stats


def colour_label(label: np.ndarray) -> np.ndarray:
    """RGB picture of a label: palette colours, ignore black, 'no object' dark grey."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:len(FMB_PALETTE)] = np.array(FMB_PALETTE, np.uint8)
    lut[SET_BASE:SET_BASE + 8] = (60, 60, 60)
    lut[IGNORE_INDEX] = (0, 0, 0)
    return lut[label]


def write_report(stats: dict, sets: Sequence[LabelSet], output: Path, sheet_rows: int = 6) -> None:
    """``report.md`` (pixel shares per class, object sources) and ``labels.png``."""
    lines = ['# Training labels', '', 'Made by `ssvif_make_labels` (training/labels/make.py).', '']
    for ls in sets:
        s = stats[ls.name]
        total = max(1, s['total_pixels'])
        lines += [f'## {ls.name} ({s["day"]} day, {s["night"]} night pairs)', '',
                  '| label | share of pixels |', '|---|---:|']
        names = {**dict(enumerate(FMB_CLASSES)), IGNORE_INDEX: 'ignore (255)',
                 **{SET_BASE + b: f'set {SET_BASE + b}: background' + ''.join(
                     f' or {g}' for g, bit in GROUP_BITS.items() if b & bit) for b in range(8)}}
        for i, c in sorted(s['pixels'].items()):
            lines.append(f'| {names.get(i, i)} | {c / total:.4f} |')
        if s['sources']:
            lines += ['', '| object masks: group:source | boxes |', '|---|---:|']
            lines += [f'| {k} | {v} |' for k, v in sorted(s['sources'].items())]
        lines.append('')
    (output / 'report.md').write_text('\n'.join(lines))
    (output / 'stats.json').write_text(json.dumps(stats, indent=1, default=dict))
    rows = []
    for ls in sets:
        files = {k: images_by_stem(ls.root / k) for k in ('vi', 'ir')}
        day = [n for n in ls.names if n.endswith('D')] or list(ls.names)
        night = [n for n in ls.names if n.endswith('N')]
        picks = day[::max(1, len(day) // 3)][:3] + night[::max(1, len(night) // 3)][:3]
        for name in picks[:sheet_rows]:
            vis, thr = read_pair(ls.root, name, files)
            label = cv2.imread(str(output / ls.name / f'{name}.png'), cv2.IMREAD_GRAYSCALE)
            over = (0.5 * vis + 0.5 * colour_label(label)).astype(np.uint8)
            row = np.hstack([vis, cv2.cvtColor(thr, cv2.COLOR_GRAY2RGB), over])
            rows.append(cv2.resize(row, (row.shape[1] * 240 // row.shape[0], 240)))
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT)
                for r in rows]
        cv2.imwrite(str(output / 'labels.png'), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
