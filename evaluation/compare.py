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
``compare_fusion``: score several fusion methods on the same pairs and report them side by side.

    compare_fusion --visible DIR --thermal DIR --method NAME=SOURCE [--method ...] --output DIR
                   [--convention vifb|cddfuse] [--baselines]

SOURCE is a folder of fused images (``man_SeAFusion.jpg`` style names are
matched by ``evaluation.io.match_triplets``), an ``ssvif_train``
checkpoint (``.pt``, fused by ``training.fuse``) or an exported bundle
(``.onnx``, fused by the torch-free runtime exactly as the node fuses),
both written first into ``OUTPUT/fused/NAME/``. ``--baselines`` adds
visible-only, thermal-only, average and per-pixel max. Every method is
scored on the same images: pairs that some method lacks are dropped (and
named). Writes ``metrics.csv`` (one row per image x method x metric),
``summary.md`` (means; best **bold**, second <u>underlined</u>, among the fused images:
the visible-only and thermal-only copies are shown, not ranked),
``distributions.png`` and ``grid.png``. Bad input prints one line to stderr
and exits with 2.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
import sys
from typing import Callable, Mapping, Sequence
import warnings

import numpy as np
from ros2_ssvif.cli import add_thermal_argument, run_command, whole_number

from .io import InputError, list_images, match_triplets, read_image
from .metrics import compute_all, CONVENTIONS, METRICS


__all__ = [
    'BASELINES',
    'PAPER_METRICS',
    'LOWER_IS_BETTER',
    'baseline_image',
    'parse_method',
    'rank_marks',
    'summary_markdown',
    'wins',
    'compare',
    'main',
]

#: The columns of SSVIF Tables I-II, in their order.
PAPER_METRICS = ('EN', 'MI', 'VIF', 'Qabf', 'SSIM', 'MS_SSIM', 'DeltaE')
LOWER_IS_BETTER = frozenset({'DeltaE'})
DISPLAY = {'MS_SSIM': 'MS-SSIM', 'DeltaE': 'ΔE'}
GRID_MAX_BYTES = 600_000  # the grid is linked from the README: keep it small


def _rgb_pair(ir: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sources with the same channel count (grey repeated) so they can be combined."""
    if ir.ndim == vis.ndim:
        return ir, vis
    rep = lambda a: np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a  # noqa: E731
    return rep(ir), rep(vis)


def _average(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    a, b = _rgb_pair(ir, vis)
    return ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8)  # mean, halves rounded up


def _maximum(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    a, b = _rgb_pair(ir, vis)
    return np.maximum(a, b)


def _max_luminance(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """
    Fuse by Y = max(Y_visible, IR) with the visible chroma kept.

    BT.601 full-range YCbCr, as the fusion papers' luma protocol: the one-line rule a
    user would write first.
    """
    import cv2

    t = ir if ir.ndim == 2 else cv2.cvtColor(ir, cv2.COLOR_RGB2GRAY)
    if vis.ndim == 2:
        return np.maximum(vis, t)
    ycc = cv2.cvtColor(vis, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = np.maximum(ycc[..., 0], t)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


#: name -> f(ir, visible) on uint8 arrays; the trivial fusions every method should beat.
SOURCE_COPIES = ('visible-only', 'thermal-only')  # baselines that copy one source

BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    'visible-only': lambda ir, vis: _rgb_pair(ir, vis)[1],
    'thermal-only': lambda ir, vis: _rgb_pair(ir, vis)[0],
    'average': _average,
    'max': _maximum,
    'max-luminance': _max_luminance,
}


def baseline_image(name: str, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Return the ``name`` baseline fusion of one uint8 pair."""
    return BASELINES[name](ir, vis)


def parse_method(text: str) -> tuple[str, str]:
    """``NAME=SOURCE`` -> (name, source); InputError when either part is empty."""
    name, sep, source = text.partition('=')
    if not sep or not name.strip() or not source.strip():
        raise InputError(
            f'--method must be NAME=SOURCE (a folder, a .pt checkpoint or an .onnx model), '
            f'got {text!r}'
        )
    if any(c in name for c in '/\\|') or name.strip() in ('.', '..'):
        raise InputError(f"--method name {name!r} must not contain a path separator or '|'")
    return name.strip(), source.strip()


def _fused_folder(
    name: str, source: str, visible: str, ir: str, out: Path, progress: bool
) -> Path:
    """
    Return a folder of fused images for ``source``.

    A checkpoint or an exported model is fused into OUTPUT/fused/NAME first (a model through
    the torch-free runtime, as the node runs it).
    """
    src = Path(source)
    if src.suffix == '.onnx':
        if not src.is_file():
            raise InputError(f'--method {name}: model not found: {src}')
        from ros2_ssvif.fuse_images import fuse_folders, FuseError

        dest = out / 'fused' / name
        try:
            fuse_folders(src, visible, ir, dest, progress=progress)
        except FuseError as exc:
            raise InputError(f'--method {name}: {exc}') from None
        return dest
    if src.suffix == '.pt':
        if not src.is_file():
            raise InputError(f'--method {name}: checkpoint not found: {src}')
        from training.fuse import (  # torch only when a checkpoint is given
            fuse_folder,
            load_for_fusion,
        )

        model, normalizer = load_for_fusion(src)
        dest = out / 'fused' / name
        fuse_folder(model, visible, ir, dest, progress=progress, normalizer=normalizer)
        return dest
    if not src.is_dir():
        raise InputError(
            f'--method {name}: {src} is neither a folder, a .pt checkpoint nor an .onnx model'
        )
    return src


def rank_marks(means: Mapping[str, float], lower_is_better: bool = False) -> dict[str, str]:
    """Map method -> 'best' | 'second' | '' by mean; ties share a mark, NaN never ranks."""
    values = sorted({v for v in means.values() if not math.isnan(v)}, reverse=not lower_is_better)
    marks = dict.fromkeys(means, '')
    for mark, target in zip(('best', 'second'), values[:2]):
        for m, v in means.items():
            if v == target:
                marks[m] = mark
    return marks


def table_cell(value: float, mark: str) -> str:
    """Format one markdown table cell: 4 decimals, best in bold, second underlined."""
    text = 'n/a' if math.isnan(value) else f'{value:.4f}'
    return {'best': f'**{text}**', 'second': f'<u>{text}</u>'}.get(mark, text)


def _table(means: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> list[str]:
    head = [f"{DISPLAY.get(k, k)} {'↓' if k in LOWER_IS_BETTER else '↑'}" for k in metrics]
    lines = ['| Method | ' + ' | '.join(head) + ' |', '|---|' + '---:|' * len(metrics)]
    # rank what the reader sees: values equal to 4 decimals share a mark; the sources'
    # copies are references (visible-only has ΔE 0 and the most MI by construction), not ranked
    ranked = [m for m in means if m not in SOURCE_COPIES]
    marks = {
        k: {**dict.fromkeys(means, ''),
            **rank_marks({m: round(means[m][k], 4) for m in ranked}, k in LOWER_IS_BETTER)}
        for k in metrics
    }
    for m in means:
        lines.append(
            f'| {m} | ' + ' | '.join(table_cell(means[m][k], marks[k][m]) for k in metrics) + ' |'
        )
    return lines


def wins(means: Mapping[str, Mapping[str, float]], a: str, b: str,
         metrics: Sequence[str] = PAPER_METRICS) -> list[str]:
    """Return the metrics on which method ``a``'s mean is strictly better than ``b``'s."""
    out = []
    for k in metrics:
        va, vb = means[a][k], means[b][k]
        if not (math.isnan(va) or math.isnan(vb)) and (
            va < vb if k in LOWER_IS_BETTER else va > vb
        ):
            out.append(k)
    return out


def summary_markdown(means: Mapping[str, Mapping[str, float]], n_images: int, convention: str,
                     methods: Sequence[str] = (), sources: Mapping[str, str] | None = None) -> str:
    """Markdown report: paper-metric table, other metrics, and the first method head to head."""
    lines = [
        f'Mean over {n_images} image(s), metric convention `{convention}`. '
        '**Bold**: best, <u>underlined</u>: second best (ΔE lower is better, all others higher).',
        '',
    ]
    if sources:
        lines += [f'- {m}: `{s}`' for m, s in sources.items()] + ['']
    lines += ['### Paper metrics (SSVIF Tables I–II)', '', *_table(means, PAPER_METRICS), '']
    other = [k for k in METRICS if k not in PAPER_METRICS]
    lines += ['### Other metrics', '', *_table(means, other), '']
    if methods and len(means) > 1:
        lines += ['### Head to head', '']
        for b in [m for m in means if m != methods[0]]:
            w = wins(means, methods[0], b)
            lines.append(
                f'- {methods[0]} better than {b} on {len(w)} of {len(PAPER_METRICS)} paper metrics'
                + (f': {", ".join(DISPLAY.get(k, k) for k in w)}' if w else '')
            )
        lines.append('')
    return '\n'.join(lines)


def _score(stems: Sequence[str], ir_files: Mapping[str, Path], vis_files: Mapping[str, Path],
           fused: Mapping[str, Mapping[str, Path]], baselines: Sequence[str], convention: str,
           progress: bool) -> list[dict]:
    from tqdm import tqdm

    rows = []
    bar = tqdm(
        total=len(stems) * (len(fused) + len(baselines)),
        desc='compare_fusion',
        unit='score',
        disable=not progress,
    )
    for stem in stems:
        ir, vis = read_image(ir_files[stem]), read_image(vis_files[stem])
        if ir.shape[:2] != vis.shape[:2]:
            raise InputError(
                f'{stem}: visible is {vis.shape[1]}x{vis.shape[0]}, '
                f'ir is {ir.shape[1]}x{ir.shape[0]}'
            )
        images = {m: read_image(paths[stem]) for m, paths in fused.items()}
        images.update({b: baseline_image(b, ir, vis) for b in baselines})
        for method, img in images.items():
            if img.shape[:2] != vis.shape[:2]:
                raise InputError(f'{method}: fused {stem} is {img.shape[1]}x{img.shape[0]}, '
                                 f'sources are {vis.shape[1]}x{vis.shape[0]}')
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                scores = compute_all(img, ir, vis, convention=convention)
            for w in caught:
                print(f'compare_fusion: {method} {stem}: {w.message}', file=sys.stderr)
            rows += [
                {'image': stem, 'method': method, 'metric': k, 'value': float(v)}
                for k, v in scores.items()
            ]
            bar.update(1)
    bar.close()
    return rows


def _means(rows: Sequence[dict], methods: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for m in methods:
        out[m] = {}
        for k in METRICS:
            v = np.array(
                [r['value'] for r in rows if r['method'] == m and r['metric'] == k], float
            )
            v = v[~np.isnan(v)]
            out[m][k] = float(v.mean()) if v.size else math.nan
    return out


def _grid(stems, ir_files, vis_files, fused, baselines, out: Path, n_rows: int) -> Path | None:
    from .plots import grid_plot

    if n_rows <= 0 or not stems:
        return None
    picks = [
        stems[i]
        for i in np.linspace(0, len(stems) - 1, min(n_rows, len(stems))).round().astype(int)
    ]
    shown = [b for b in baselines if b not in SOURCE_COPIES]  # those are the first columns
    columns = ['visible', 'thermal', *fused, *shown]
    rows = []
    for s in dict.fromkeys(picks):
        ir, vis = read_image(ir_files[s]), read_image(vis_files[s])
        rows.append((s, [vis, ir, *(read_image(p[s]) for p in fused.values()),
                         *(baseline_image(b, ir, vis) for b in shown)]))
    path = out / 'grid.png'
    width = 220
    while True:  # shrink the cells until the picture is small enough to link from a README
        grid_plot(rows, columns, path, cell_width=width)
        if path.stat().st_size <= GRID_MAX_BYTES or width <= 80:
            return path
        width = int(width * 0.8)


def compare(visible: str, ir: str, methods: Sequence[tuple[str, str]], output: str | Path,
            convention: str = 'vifb', baselines: bool = False, grid_rows: int = 3,
            progress: bool = True) -> dict[str, dict[str, float]]:
    """Fuse/match, score, and write the four report files; returns method -> metric -> mean."""
    from .plots import distributions_plot

    names = [n for n, _ in methods]
    extra = list(BASELINES) if baselines else []
    dup = sorted({n for n in names + extra if (names + extra).count(n) > 1})
    if dup:
        raise InputError(f"method name(s) used twice: {', '.join(dup)}")
    if not names and not extra:
        raise InputError('nothing to compare: give --method NAME=SOURCE and/or --baselines')
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    ir_files, vis_files = list_images(ir, 'ir'), list_images(visible, 'visible')
    stems = sorted(set(ir_files) & set(vis_files))
    if not stems:
        raise InputError(f'no file stem is in both --ir ({len(ir_files)} images) and --visible '
                         f'({len(vis_files)} images)')
    fused: dict[str, dict[str, Path]] = {}
    for name, source in methods:
        folder = _fused_folder(name, source, visible, ir, out, progress)
        triplets, _ = match_triplets(ir, visible, folder)
        fused[name] = {s: f for s, _, _, f in triplets}
    common = [s for s in stems if all(s in f for f in fused.values())]
    if not common:
        raise InputError('no image pair has a fused image from every method')
    if len(common) < len(stems):
        dropped = [s for s in stems if s not in common]
        print(
            f"compare_fusion: {len(dropped)} pair(s) lack some method's image and are not scored: "
            f'{", ".join(dropped[:5])}{" ..." if len(dropped) > 5 else ""}',
            file=sys.stderr,
        )
    rows = _score(common, ir_files, vis_files, fused, extra, convention, progress)
    every = names + extra
    with (out / 'metrics.csv').open('w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=['image', 'method', 'metric', 'value'])
        w.writeheader()
        w.writerows({**r, 'value': f"{r['value']:.6f}"} for r in rows)
    means = _means(rows, every)
    sources = {**dict(methods), **dict.fromkeys(extra, 'baseline')}
    (out / 'summary.md').write_text(
        summary_markdown(means, len(common), convention, names, sources)
    )
    values = {
        m: {
            k: [r['value'] for r in rows if r['method'] == m and r['metric'] == k] for k in METRICS
        }
        for m in every
    }
    order = list(PAPER_METRICS) + [k for k in METRICS if k not in PAPER_METRICS]
    distributions_plot(
        values, order, out / 'distributions.png', lower_is_better=tuple(LOWER_IS_BETTER)
    )
    _grid(common, ir_files, vis_files, fused, extra, out, grid_rows)
    return means


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='compare_fusion', description=__doc__.strip().splitlines()[0])
    p.add_argument('--visible', required=True, help='folder of visible source images')
    add_thermal_argument(p, required=True, help='folder of thermal (infrared) source images')
    p.add_argument(
        '--method',
        action='append',
        default=[],
        metavar='NAME=SOURCE',
        help='a fused-image folder, an SSVIF .pt checkpoint or an exported .onnx bundle '
        '(repeatable; the first is '
        'compared head to head with the others)',
    )
    p.add_argument('--output', required=True, help='report folder')
    p.add_argument(
        '--convention', default='vifb', choices=sorted(CONVENTIONS), help='metric convention'
    )
    p.add_argument(
        '--baselines',
        action='store_true',
        help='add visible-only, thermal-only, average, max, max-luminance',
    )
    p.add_argument('--grid-rows', type=whole_number(1), default=3,
                   help='scenes in grid.png (default 3)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command('compare_fusion', lambda: _compare(args), errors=(TypeError, RuntimeError))


def _compare(args) -> int:
    if Path(args.output).is_file():
        raise InputError(f'--output {args.output} is a file, not a folder')
    methods = [parse_method(t) for t in args.method]
    means = compare(
        args.visible,
        args.thermal,
        methods,
        args.output,
        args.convention,
        args.baselines,
        args.grid_rows,
        progress=not args.no_progress,
    )
    print(f'compare_fusion: {len(means)} method(s) scored; report in {args.output} '
          '(metrics.csv, summary.md, distributions.png, grid.png)')
    print(f"{'method':<14}" + ''.join(f'{DISPLAY.get(k, k):>9}' for k in PAPER_METRICS))
    for m, v in means.items():
        print(f'{m:<14}' + ''.join(f'{v[k]:>9.4f}' for k in PAPER_METRICS))
    return 0


if __name__ == '__main__':
    sys.exit(main())
