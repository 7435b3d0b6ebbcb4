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
The box scoring's reports: ``summary.md`` (a table per subset), ``box_scores.csv`` and ``.json``.

Apart from ``box_protocol`` (which reads and scores) so a report can be
rewritten from saved summaries without touching images.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
import csv
import json
import math
from pathlib import Path

from .metrics.boxes import DEFAULT_BOX_SOURCES, GROUPS, METRIC_NAMES, SUBSETS


__all__ = ['DEFAULT_DEFINITION', 'format_score', 'summary_markdown', 'write_reports']

#: the thresholds the command uses (BoxScore's and merge_annotations' defaults).
DEFAULT_DEFINITION = {'min_fraction': 0.2, 'tall_px': 24.0, 'enlarge': 0.15,
                      'merge_iou': 0.5, 'merge_keep': 'union'}

_COLUMN_TITLES = {'recall_tall': 'R(≥24px)', 'recall': 'R(all)', 'precision': 'P'}


def format_score(v: float) -> str:
    """Two decimals, or an en dash for a score that does not exist (NaN, None)."""
    return '–' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{v:.2f}'


def summary_markdown(summaries: Mapping[str, Mapping], n_pairs: int,
                     sources: Mapping[str, str] | None = None,
                     box_sources: Sequence[str] = DEFAULT_BOX_SOURCES,
                     pairs_file: str = '') -> str:
    """Markdown report: per subset one table (rows methods, R(≥24px) / R(all) / P per group)."""
    methods = list(summaries)
    groups = list(next(iter(summaries.values()))['all']) if methods else list(GROUPS)
    cols = [(g, k) for g in groups for k in ('recall_tall', 'recall', 'precision')]
    lines = [
        f'Segmentation masks against real boxes: {n_pairs} pair(s)'
        + (f' of `{pairs_file}`' if pairs_file else '')
        + f"; ground truth = {' + '.join(box_sources)} boxes "
        '(same group, IoU ≥ 0.5 counted once).',
        '',
        ('- **R(all)**: share of boxes with ≥ 20 % of their pixels predicted as a class of '
         'the group; **R(≥24px)**: the same for boxes at least 24 px tall.'),
        ('- **P**: share of the pixels predicted as the group that lie inside a box of the '
         'group enlarged by 15 % per side (pixels summed over the subset). – = no boxes / no '
         'predicted pixels.'),
        '- Groups: ' + '; '.join(f"{g} = {{{', '.join(GROUPS.get(g, (g,)))}}}" for g in groups)
        + '. Definitions: `evaluation/metrics/boxes.py`.',
        '',
    ]
    if sources:
        lines += [f'- {m}: `{s}`' for m, s in sources.items()] + ['']
    for subset in SUBSETS:
        lines += [f'### {subset}', '']
        head = [f'{g} {_COLUMN_TITLES[k]}' for g, k in cols]
        lines += ['| Method | ' + ' | '.join(head) + ' |', '|---|' + '---:|' * len(cols)]
        best = {}
        for g, k in cols:
            vals = [round(summaries[m][subset][g][k], 2) for m in methods
                    if not math.isnan(summaries[m][subset][g][k])]
            best[(g, k)] = max(vals) if vals and len(methods) > 1 else None
        for m in methods:
            cells = []
            for g, k in cols:
                v = summaries[m][subset][g][k]
                text = format_score(v)
                if best[(g, k)] is not None and not math.isnan(v) and round(v, 2) == best[(g, k)]:
                    text = f'**{text}**'
                cells.append(text)
            lines.append(f'| {m} | ' + ' | '.join(cells) + ' |')
        ref = summaries[methods[0]][subset]
        n_img = ref[groups[0]]['images'] if groups else 0
        counts = ', '.join(f"{g} {ref[g]['boxes_tall']} / {ref[g]['boxes']}" for g in groups)
        lines += ['', f'{n_img} image(s); boxes (≥24 px / all): {counts}.']
        for m in methods:
            px = ', '.join(f"{g} {summaries[m][subset][g]['predicted_pixels']:,}"
                           for g in groups)
            found = ', '.join(f"{g} {summaries[m][subset][g]['found_tall']}"
                              f" / {summaries[m][subset][g]['found']}" for g in groups)
            lines.append(f'{m}: found (≥24 px / all) {found}; predicted pixels {px}.')
            lines[-1] = lines[-1] if m == methods[-1] else lines[-1] + '<br>'
        lines.append('')
    return '\n'.join(lines)


def _json_value(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def write_reports(output: str | Path, summaries: Mapping[str, Mapping], n_pairs: int,
                  sources: Mapping[str, str] | None = None,
                  box_sources: Sequence[str] = DEFAULT_BOX_SOURCES,
                  pairs_file: str = '', definition: Mapping | None = None) -> None:
    """
    Write ``summary.md``, ``box_scores.csv`` (long format) and ``box_scores.json``.

    ``definition`` is recorded in the JSON (default: the command's thresholds).
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'summary.md').write_text(
        summary_markdown(summaries, n_pairs, sources, box_sources, pairs_file))
    with (out / 'box_scores.csv').open('w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['method', 'subset', 'group', 'metric', 'value'])
        for m, summary in summaries.items():
            for subset, groups in summary.items():
                for g, metrics in groups.items():
                    for k in METRIC_NAMES:
                        v = metrics[k]
                        text = ('nan' if math.isnan(v) else f'{v:.6f}') if isinstance(
                            v, float) else str(v)
                        w.writerow([m, subset, g, k, text])
    doc = {
        'pairs': n_pairs,
        'pairs_file': pairs_file,
        'box_sources': list(box_sources),
        'groups': {g: list(v) for g, v in GROUPS.items()},
        'definition': dict(definition or DEFAULT_DEFINITION),
        'methods': {
            m: {
                'source': (sources or {}).get(m, ''),
                'scores': {s: {g: {k: _json_value(v) for k, v in metrics.items()}
                               for g, metrics in groups.items()}
                           for s, groups in summary.items()},
            }
            for m, summary in summaries.items()
        },
    }
    (out / 'box_scores.json').write_text(json.dumps(doc, indent=1, allow_nan=False) + '\n')
