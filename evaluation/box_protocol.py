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
``evaluate_segmentation``: score segmentation masks on real pairs against real object boxes.

    evaluate_segmentation --boxes DIR [--pairs FILE] --method NAME=PATH [--method ...]
                          --output DIR [--overlays N] [--box-sources visible,infrared]

Why boxes: no pixel labels exist for the real RGB-thermal pairs this project
may use, but ``../shared/data/msrs_test_dev`` has real person / bicycle / car
boxes (YOLO format, annotated separately on the visible and the infrared
image). The masks are scored by box recall and in-box pixel precision per
class group, day and night apart (definitions and every rounding rule in
``evaluation/metrics/boxes.py``).

DIR (``--boxes``) holds ``vi/NAME.png``, ``ir/NAME.png``, ``pairs.txt`` and
``labels/{visible,infrared,fusion}/NAME.txt``. ``--pairs`` lists the names
to score (default ``DIR/pairs.txt``). PATH is an exported bundle ``*.onnx``,
run on each pair exactly as ``ssvif_fuse`` and the node run it (torch-free
runtime, thermal normalised for stills), or a folder of ``NAME.png`` masks
(8-bit FMB class ids). Ground truth is the union of the ``--box-sources``
annotations (default visible + infrared, a visible and an infrared box of one
group with IoU >= 0.5 counted once as their enclosing box).

Writes ``OUTPUT/summary.md`` (one table per subset: day, night, all),
``box_scores.csv`` (method, subset, group, metric, value), ``box_scores.json``,
``overlays/NAME.png`` for ``--overlays`` pairs (day and night) and
``contact_sheet.png``. Bad input prints one line to stderr and exits with 2.

``score_masks`` (one method) and ``score_methods`` (several, one pass over
the pairs) are the same scoring for code that has masks in memory.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
import sys

import numpy as np
from ros2_ssvif.cli import run_command
from ros2_ssvif.image_files import read_name_list

from .box_overlays import GROUP_COLOURS, legend_strip, overlay_row, pick_overlay_names, write_rgb
from .box_report import DEFAULT_DEFINITION, format_score, summary_markdown, write_reports
from .io import InputError
from .metrics.boxes import (
    BOX_SOURCES,
    BoxScore,
    DEFAULT_BOX_SOURCES,
    GROUPS,
    load_boxes,
    SUBSETS,
)


__all__ = [
    'BOX_SOURCES',
    'DEFAULT_BOX_SOURCES',
    'DEFAULT_DEFINITION',
    'GROUP_COLOURS',
    'MaskFolder',
    'MaskSource',
    'OnnxMasks',
    'PairImages',
    'evaluate',
    'load_boxes',
    'main',
    'overlay_row',
    'parse_box_sources',
    'pick_overlay_names',
    'read_names',
    'score_masks',
    'score_methods',
    'summary_markdown',
    'write_reports',
]

PROG = 'evaluate_segmentation'


MaskSource = Mapping[str, np.ndarray] | Callable[[str], np.ndarray]


def parse_box_sources(text: str | Sequence[str]) -> tuple[str, ...]:
    """``'visible,infrared'`` -> ('visible', 'infrared'); InputError for unknown or none."""
    items = text.split(',') if isinstance(text, str) else list(text)
    items = [s.strip() for s in items if s.strip()]
    bad = [s for s in items if s not in BOX_SOURCES]
    if bad or not items:
        raise InputError(f"--box-sources must be a comma list of {', '.join(BOX_SOURCES)}, "
                         f'got {text!r}')
    return tuple(dict.fromkeys(items))


def read_names(path: str | Path) -> list[str]:
    """Pair names of a list file (``training.data.splits.read_name_list``'s format)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f'pair list not found: {path}')
    names = read_name_list(path)
    if not names:
        raise InputError(f'pair list {path} names no pairs')
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f'pair list {path} names {dup[0]!r} twice')
    return names


class PairImages:
    """The visible (RGB uint8) and raw thermal images of a ``vi/`` + ``ir/`` dataset, by name."""

    def __init__(self, root: str | Path):
        from ros2_ssvif.image_files import ImageFolderError, images_by_stem

        root = Path(root)
        try:
            self.visible = images_by_stem(root / 'vi')
            self.thermal = images_by_stem(root / 'ir')
        except ImageFolderError as exc:
            raise InputError(f'--boxes: {exc}') from None
        self._last: tuple[str, np.ndarray, np.ndarray] | None = None

    def check(self, names: Sequence[str]) -> None:
        for n in names:
            for role, files in (('vi', self.visible), ('ir', self.thermal)):
                if n not in files:
                    raise InputError(f'listed pair {n!r} has no image in {role}/')

    def size(self, name: str) -> tuple[int, int]:
        """(height, width) of the visible image, from its header."""
        from PIL import Image

        with Image.open(self.visible[name]) as im:
            return im.size[1], im.size[0]

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(visible RGB uint8, thermal as stored), read as ``ssvif_fuse`` reads them."""
        from ros2_ssvif.fuse_images import FuseError, read_thermal_raw, read_visible_u8

        if self._last is None or self._last[0] != name:
            try:
                vis = read_visible_u8(self.visible[name])
                thr = read_thermal_raw(self.thermal[name])
            except FuseError as exc:
                raise InputError(str(exc)) from None
            self._last = (name, vis, thr)
        return self._last[1], self._last[2]

    def thermal_u8(self, name: str) -> np.ndarray:
        """Thermal image as 8-bit grey, normalised for stills as the model sees it."""
        from ros2_ssvif.thermal import ThermalNormalizer

        t01 = ThermalNormalizer().for_stills()(self.get(name)[1])
        return (t01 * 255.0 + 0.5).astype(np.uint8)


class MaskFolder:
    """``FOLDER/NAME.png`` masks (8-bit single-channel FMB class ids) as name -> mask."""

    def __init__(self, folder: str | Path, label: str = '', images: PairImages | None = None):
        self.folder = Path(folder)
        self.label = label or self.folder.name
        self.images = images
        if not self.folder.is_dir():
            raise InputError(f'--method {self.label}: mask folder not found: {self.folder}')

    def __call__(self, name: str) -> np.ndarray:
        import cv2

        path = self.folder / f'{name}.png'
        if not path.is_file():
            raise InputError(f'--method {self.label}: no mask for pair {name}: {path} is missing')
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise InputError(f'--method {self.label}: cannot read mask {path}')
        if mask.dtype != np.uint8 or mask.ndim != 2:
            raise InputError(f'--method {self.label}: {path} must be an 8-bit single-channel '
                             f'image of class ids, got {mask.dtype} {mask.shape}')
        if self.images is not None and name in self.images.visible:
            hw = self.images.size(name)
            if mask.shape != hw:
                raise InputError(f'--method {self.label}: mask {path} is '
                                 f'{mask.shape[1]}x{mask.shape[0]}, the visible image is '
                                 f'{hw[1]}x{hw[0]}')
        return mask

    def base_image(self, name: str) -> np.ndarray | None:
        return None  # the overlay blends over the visible image


class OnnxMasks:
    """
    Masks of an exported bundle, run on each pair exactly as ``ssvif_fuse`` / the node run it.

    ``FramePipeline.run_arrays`` with ``FusionSegmenter`` and a
    ``ThermalNormalizer`` for stills (no running window across unrelated
    images). The fused image of the last pair is kept for the overlays.
    """

    def __init__(self, model_path: str | Path, images: PairImages, label: str = '',
                 providers: Sequence[str] = ('cpu',)):
        from ros2_ssvif.classes import FMB_CLASSES
        from ros2_ssvif.model_runner import FusionSegmenter, ModelError
        from ros2_ssvif.pipeline import FramePipeline
        from ros2_ssvif.thermal import ThermalNormalizer

        path = Path(model_path)
        self.label = label or path.stem
        if not path.is_file():
            raise InputError(f'--method {self.label}: model not found: {path}')
        try:
            model = FusionSegmenter(path, tuple(providers))
        except ModelError as exc:
            raise InputError(f'--method {self.label}: {str(exc).splitlines()[0]}') from None
        if tuple(model.class_names) != FMB_CLASSES:
            raise InputError(f'--method {self.label}: {path.name} predicts the classes '
                             f'{model.class_names}, not the FMB list this score reads')
        self.pipeline = FramePipeline(model, normalizer=ThermalNormalizer().for_stills())
        self.images = images
        self._fused: dict[str, np.ndarray] = {}

    def __call__(self, name: str) -> np.ndarray:
        from ros2_ssvif.pipeline import FrameError

        vis, thr = self.images.get(name)
        if vis.shape[:2] != thr.shape[:2]:
            raise InputError(f'{name}: visible is {vis.shape[1]}x{vis.shape[0]}, thermal is '
                             f'{thr.shape[1]}x{thr.shape[0]} (register them first)')
        try:
            frame = self.pipeline.run_arrays(vis, thr)
        except FrameError as exc:
            raise InputError(f'--method {self.label}: {name}: {exc}') from None
        self._fused = {name: frame.fused}
        return frame.mask

    def base_image(self, name: str) -> np.ndarray | None:
        """Return the fused image of ``name`` when it was the last pair run, else None."""
        return self._fused.get(name)


def _mask_of(source: MaskSource, name: str, label: str) -> np.ndarray:
    if callable(source) and not isinstance(source, Mapping):
        return np.asarray(source(name))
    try:
        return np.asarray(source[name])
    except KeyError:
        raise InputError(f'{label}: no mask for pair {name}') from None


def score_methods(methods: Mapping[str, MaskSource], names: Sequence[str],
                  boxes_root: str | Path, box_sources: Sequence[str] = DEFAULT_BOX_SOURCES,
                  *, iou_threshold: float = 0.5, keep: str = 'union',
                  score_args: Mapping | None = None, progress: bool = False,
                  on_pair: Callable | None = None) -> dict[str, BoxScore]:
    """
    Score several methods' masks on the same pairs in one pass; method -> :class:`BoxScore`.

    A mask source is a mapping name -> (H,W) class-id array or a callable
    ``source(name)``. Boxes are scaled to the mask size (all methods' masks
    of a pair must have one size). ``on_pair(name, boxes, masks, found)``,
    if given, is called after each pair with method -> mask and method ->
    per-box found flags. ``score_args`` go to ``BoxScore`` (min_fraction,
    tall_px, enlarge, groups, classes).
    """
    from tqdm import tqdm

    if not methods:
        raise InputError('nothing to score: give at least one method')
    scores = {m: BoxScore(**dict(score_args or {})) for m in methods}
    for name in tqdm(list(names), desc=PROG, unit='pair', disable=not progress):
        masks = {m: _mask_of(src, name, m) for m, src in methods.items()}
        shapes = {m: k.shape for m, k in masks.items()}
        if len(set(shapes.values())) > 1:
            raise InputError(f'{name}: the masks differ in size: {shapes}')
        first = next(iter(masks.values()))
        if first.ndim != 2:
            raise InputError(f'{name}: a mask must be (H, W) class ids, got {first.shape}')
        h, w = first.shape
        boxes = load_boxes(boxes_root, name, w, h, box_sources, iou_threshold, keep)
        found = {}
        for m, mask in masks.items():
            try:
                found[m] = scores[m].update(name, mask, boxes)
            except (ValueError, TypeError) as exc:
                raise InputError(f'{m}: {name}: {exc}') from None
        if on_pair is not None:
            on_pair(name, boxes, masks, found)
    return scores


def score_masks(masks: MaskSource, names: Sequence[str], boxes_root: str | Path,
                box_sources: Sequence[str] = DEFAULT_BOX_SOURCES, **kwargs) -> BoxScore:
    """Score one method's masks (mapping or callable name -> mask); see ``score_methods``."""
    return score_methods({'masks': masks}, names, boxes_root, box_sources, **kwargs)['masks']


# -- the command ---------------------------------------------------------------------------------

def _parse_method(text: str) -> tuple[str, str]:
    name, sep, path = text.partition('=')
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
        raise InputError(f'--method must be NAME=PATH (an .onnx model or a folder of NAME.png '
                         f'masks), got {text!r}')
    if any(c in name for c in '/\\|') or name in ('.', '..'):
        raise InputError(f"--method name {name!r} must not contain a path separator or '|'")
    return name, path


def _source_for(name: str, path: str, images: PairImages):
    p = Path(path)
    if p.suffix.lower() == '.onnx':
        return OnnxMasks(p, images, label=name)
    if p.is_dir():
        return MaskFolder(p, label=name, images=images)
    if not p.exists():
        raise InputError(f'--method {name}: {p} does not exist')
    raise InputError(f'--method {name}: {p} is neither an .onnx model nor a folder of masks')


def evaluate(boxes_root: str | Path, methods: Sequence[tuple[str, str]], output: str | Path,
             pairs: str | Path | None = None, box_sources: Sequence[str] = DEFAULT_BOX_SOURCES,
             overlays: int = 6, progress: bool = True) -> dict[str, dict]:
    """Run the whole command; returns method -> ``BoxScore.summary()``."""
    root = Path(boxes_root)
    if not root.is_dir():
        raise InputError(f'--boxes folder not found: {root}')
    for s in box_sources:
        if not (root / 'labels' / s).is_dir():
            raise InputError(f'--boxes: no label folder {root / "labels" / s}')
    names_file = Path(pairs) if pairs else root / 'pairs.txt'
    images = PairImages(root)
    names = read_names(names_file) if pairs or names_file.is_file() else sorted(images.visible)
    images.check(names)
    dup = sorted({n for n, _ in methods if [m for m, _ in methods].count(n) > 1})
    if dup:
        raise InputError(f"method name(s) used twice: {', '.join(dup)}")
    if not methods:
        raise InputError('nothing to score: give --method NAME=PATH')
    out = Path(output)
    if out.is_file():
        raise InputError(f'--output {out} is a file, not a folder')
    sources = {n: _source_for(n, p, images) for n, p in methods}
    picks = set(pick_overlay_names(names, overlays))
    rows: list[tuple[str, np.ndarray]] = []
    out.mkdir(parents=True, exist_ok=True)
    if picks:
        (out / 'overlays').mkdir(exist_ok=True)

    def on_pair(name, boxes, masks, found):
        if name not in picks:
            return
        vis, _ = images.get(name)
        panels = [(m, sources[m].base_image(name), masks[m], found[m]) for m in masks]
        row = overlay_row(name, vis, images.thermal_u8(name), panels, boxes)
        write_rgb(out / 'overlays' / f'{name}.png', row)
        rows.append((name, row))

    scores = score_methods(sources, names, root, box_sources, progress=progress,
                           on_pair=on_pair)
    summaries = {m: s.summary() for m, s in scores.items()}
    write_reports(out, summaries, len(names), dict(methods), box_sources,
                  str(names_file) if pairs or names_file.is_file() else '')
    if rows:
        width = max(r.shape[1] for _, r in rows)
        gap = np.full((4, width, 3), 255, np.uint8)
        parts = [legend_strip(width)]
        for _, r in rows:
            parts += [gap, r]
        write_rgb(out / 'contact_sheet.png', np.concatenate(parts, axis=0))
    return summaries


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f'must be a whole number >= 0, got {text!r}')
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.strip().splitlines()[0])
    p.add_argument('--boxes', required=True,
                   help='dataset folder with vi/, ir/, labels/{visible,infrared,fusion}/')
    p.add_argument('--pairs', default=None,
                   help='file of pair names to score (default: BOXES/pairs.txt)')
    p.add_argument('--method', action='append', default=[], metavar='NAME=PATH',
                   help='an exported .onnx bundle or a folder of NAME.png class-id masks '
                        '(repeatable)')
    p.add_argument('--output', required=True, help='report folder')
    p.add_argument('--overlays', type=_count, default=6,
                   help='pairs drawn in overlays/ and contact_sheet.png '
                        '(default 6, day and night)')
    p.add_argument('--box-sources', default=','.join(DEFAULT_BOX_SOURCES),
                   help='annotations merged into the ground truth, comma-separated from '
                        f"{', '.join(BOX_SOURCES)} (default: visible,infrared)")
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: _evaluate(args), errors=(TypeError, RuntimeError))


def _evaluate(args) -> int:
    methods = [_parse_method(t) for t in args.method]
    summaries = evaluate(args.boxes, methods, args.output, args.pairs,
                         parse_box_sources(args.box_sources), args.overlays,
                         progress=not args.no_progress)
    print(f'{PROG}: {len(summaries)} method(s) scored; report in {args.output} '
          '(summary.md, box_scores.csv, box_scores.json, overlays/, contact_sheet.png)')
    groups = list(GROUPS)
    print(f"{'method':<14}{'subset':<7}"
          + ''.join(f'{g[:6] + " " + t:>14}' for g in groups for t in ('R24', 'R', 'P')))
    for m, summary in summaries.items():
        for subset in SUBSETS:
            vals = [summary[subset][g][k] for g in groups
                    for k in ('recall_tall', 'recall', 'precision')]
            print(f'{m:<14}{subset:<7}' + ''.join(f'{format_score(v):>14}' for v in vals))
    return 0


if __name__ == '__main__':
    sys.exit(main())
