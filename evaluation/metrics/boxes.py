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
Scoring segmentation masks against object boxes: box recall and in-box pixel precision.

Why boxes: no pixel labels exist for real RGB-thermal driving images this
project may use (the only pixel labels it can make are synthetic), but the
MSRS pairs carry real person / bicycle / car boxes, annotated separately on
the visible and the infrared image. A box cannot say which of its pixels are
the object, so two one-sided scores are computed instead of IoU:

- **box recall** per class group: a box is *found* when at least
  ``min_fraction`` (20 %) of its pixels carry a class of its group in the
  mask; reported for all boxes and for boxes at least ``tall_px`` (24) pixels
  tall (small far objects are the hard part, and the least reliable labels);
- **pixel precision** per group: the share of the pixels predicted as a
  class of the group that lie inside a box of that group enlarged by
  ``enlarge`` (15 %) of its width / height on each side (boxes are loose and
  the two bands' annotations disagree by a few pixels). Pixels are summed over
  all images of a subset (a dataset-level ratio, not a mean of per-image
  ratios); a group nobody predicted has precision NaN, not 1.

Everything is counted separately for day (names ending in ``D``) and night
(``N``) and for all images together, with the counts beside the ratios.

Conventions (the exact rules, tested in test/test_evaluation_boxes.py):

- Class groups are FMB class *names* (``GROUPS``), resolved to ids through
  ``ros2_ssvif.classes``: person = {person}, car = {car, truck, bus},
  bicycle = {bicycle, motorcycle}. YOLO box classes map 0 -> person,
  1 -> bicycle, 2 -> car (``MSRS_BOX_GROUPS``).
- Coordinates: a :class:`Box` holds continuous pixel coordinates, pixel
  column ``c`` spanning ``[c, c + 1)``; ``x0 = (cx - w/2) * W`` etc., clipped to
  the image when read.
- Integer pixel grid: each edge is rounded to the nearest pixel edge, halves
  up (``floor(x + 0.5)``); column ``c`` is inside when ``round(x0) <= c <
  round(x1)`` (the same for rows). A box narrower than that keeps one pixel.
  The enlarged box for precision is enlarged in continuous coordinates
  (``x0 - 0.15 w`` ... with ``w = x1 - x0``), clipped, then rounded the same way.
- Tall: the box's continuous height ``y1 - y0`` (clipped, in pixels of the
  image the labels are scaled to, 640x480 for MSRS) is ``>= tall_px``.
- Found: ``hits >= min_fraction * pixels`` over the rounded box's pixels.
- Merging two annotation sources (``merge_annotations``): boxes of the same
  group with IoU >= 0.5 (continuous coordinates) are one object, matched
  greedily by highest IoU, one to one; the merged box is the **union**
  (enclosing rectangle) of the two by default, ``keep='larger'`` keeps the one
  of larger area. More than two sources are merged one after the other into
  the running result.

Part of the public metrics module (training may import it; torch-free, no
other evaluation import).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import math
from pathlib import Path

import numpy as np
from ros2_ssvif.classes import class_id, FMB_CLASSES, IGNORE_INDEX
from ros2_ssvif.errors import SsvifError


__all__ = [
    'BOX_SOURCES',
    'DEFAULT_BOX_SOURCES',
    'GROUPS',
    'METRIC_NAMES',
    'MSRS_BOX_GROUPS',
    'SUBSETS',
    'Box',
    'BoxScore',
    'LabelError',
    'box_iou',
    'box_pixel_bounds',
    'box_pixel_mask',
    'group_class_ids',
    'load_boxes',
    'merge_annotations',
    'read_yolo_boxes',
    'subset_of',
]

#: group -> the FMB class names whose pixels count for it.
GROUPS: dict[str, tuple[str, ...]] = {
    'person': ('person',),
    'car': ('car', 'truck', 'bus'),
    'bicycle': ('bicycle', 'motorcycle'),
}

#: YOLO class id of the MSRS detection labels -> group.
MSRS_BOX_GROUPS: dict[int, str] = {0: 'person', 1: 'bicycle', 2: 'car'}

SUBSETS: tuple[str, ...] = ('day', 'night', 'all')

#: annotation sources of ``labels/SOURCE/NAME.txt``; ground truth is visible + infrared
BOX_SOURCES = ('visible', 'infrared', 'fusion')
DEFAULT_BOX_SOURCES = ('visible', 'infrared')

#: the keys of every (subset, group) entry of ``BoxScore.summary()``, in report order.
METRIC_NAMES: tuple[str, ...] = (
    'images', 'boxes', 'boxes_tall', 'found', 'found_tall', 'recall', 'recall_tall',
    'predicted_pixels', 'inside_pixels', 'precision',
)

_EPS = 1e-9  # float noise in normalised label coordinates (6 decimals x 640)


class LabelError(SsvifError, ValueError):
    """A label file that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Box:
    """
    One object box in continuous pixel coordinates (x right, y down, x1/y1 exclusive edges).

    ``source`` says which annotation it came from (``visible``, ``infrared``,
    ``visible+infrared`` after a merge); it is informative only.
    """

    group: str
    x0: float
    y0: float
    x1: float
    y1: float
    source: str = field(default='', compare=False)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)


def _round_edge(v: float) -> int:
    """Nearest pixel edge, halves up, tolerant of float noise."""
    return math.floor(v + 0.5 + _EPS)


def box_pixel_bounds(box: Box, width: int, height: int,
                     enlarge: float = 0.0) -> tuple[int, int, int, int]:
    """
    Integer ``(c0, r0, c1, r1)`` (c1, r1 exclusive) of the pixels of ``box`` in a WxH image.

    ``enlarge`` grows the box by that fraction of its width / height on each
    side first; the result is clipped to the image and rounded (module
    docstring). A box that rounds to no pixel keeps one (inside the image).
    """
    ex, ey = enlarge * box.width, enlarge * box.height
    x0 = min(max(box.x0 - ex, 0.0), float(width))
    x1 = min(max(box.x1 + ex, 0.0), float(width))
    y0 = min(max(box.y0 - ey, 0.0), float(height))
    y1 = min(max(box.y1 + ey, 0.0), float(height))
    c0, c1, r0, r1 = _round_edge(x0), _round_edge(x1), _round_edge(y0), _round_edge(y1)
    if c1 <= c0:
        c0 = min(c0, width - 1)
        c1 = c0 + 1
    if r1 <= r0:
        r0 = min(r0, height - 1)
        r1 = r0 + 1
    return c0, r0, c1, r1


def box_pixel_mask(boxes: Iterable[Box], shape: tuple[int, int], enlarge: float = 0.0,
                   group: str | None = None) -> np.ndarray:
    """Bool (H,W) union of the pixels of ``boxes`` (only those of ``group`` when given)."""
    h, w = int(shape[0]), int(shape[1])
    out = np.zeros((h, w), dtype=bool)
    for b in boxes:
        if group is None or b.group == group:
            c0, r0, c1, r1 = box_pixel_bounds(b, w, h, enlarge)
            out[r0:r1, c0:c1] = True
    return out


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union in continuous coordinates (0 for empty boxes)."""
    iw = min(a.x1, b.x1) - max(a.x0, b.x0)
    ih = min(a.y1, b.y1) - max(a.y0, b.y0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def group_class_ids(groups: Mapping[str, Sequence[str]] = GROUPS,
                    classes: Sequence[str] = FMB_CLASSES) -> dict[str, tuple[int, ...]]:
    """Group -> the class ids of its class names in ``classes`` (KeyError for unknown names)."""
    return {g: tuple(class_id(n, tuple(classes)) for n in names) for g, names in groups.items()}


def subset_of(name_or_is_night: str | bool) -> str | None:
    """
    Return 'day' / 'night' from a name's last letter (D / N) or a bool (True = night).

    A name ending otherwise returns None: it counts in 'all' only.
    """
    if isinstance(name_or_is_night, (bool, np.bool_)):
        return 'night' if name_or_is_night else 'day'
    stem = Path(str(name_or_is_night)).stem
    last = stem[-1:].upper()
    return {'D': 'day', 'N': 'night'}.get(last)


def _parse_number(token: str, path: Path, line_no: int, what: str) -> float:
    try:
        v = float(token)
    except ValueError:
        raise LabelError(f'{path}:{line_no}: {what} {token!r} is not a number') from None
    if not math.isfinite(v):
        raise LabelError(f'{path}:{line_no}: {what} {token!r} is not finite')
    return v


def read_yolo_boxes(path: str | Path, width: int, height: int,
                    class_groups: Mapping[int, str] = MSRS_BOX_GROUPS,
                    source: str = '') -> list[Box]:
    """
    Read a YOLO label file (``class cx cy w h`` per line, normalised to [0, 1]) as pixel boxes.

    Boxes are scaled to a ``width`` x ``height`` image and clipped to it. An
    empty file is no boxes; blank lines are skipped. Raises :class:`LabelError`
    naming ``file:line`` for a line with other than five fields, a
    non-number, a class not in ``class_groups``, a size that is not positive,
    or a coordinate outside [0, 1]; and naming the file when it is missing.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise LabelError(f'label file not found: {path}') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f'cannot read label file {path}: {exc}') from None
    boxes = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise LabelError(f'{path}:{line_no}: expected 5 fields (class cx cy w h), '
                             f'got {len(fields)}: {line.strip()!r}')
        cls = _parse_number(fields[0], path, line_no, 'class')
        if not cls.is_integer() or int(cls) not in class_groups:
            known = ', '.join(f'{k} ({v})' for k, v in class_groups.items())
            raise LabelError(f'{path}:{line_no}: unknown class {fields[0]!r}; known: {known}')
        cx, cy, w, h = (_parse_number(t, path, line_no, n)
                        for t, n in zip(fields[1:], ('cx', 'cy', 'w', 'h')))
        if w <= 0 or h <= 0:
            raise LabelError(f'{path}:{line_no}: box size must be positive, got w={w} h={h}')
        if not all(-1e-6 <= v <= 1 + 1e-6 for v in (cx, cy, w, h)):
            raise LabelError(f'{path}:{line_no}: coordinates must be normalised to [0, 1], '
                             f'got {cx} {cy} {w} {h}')
        x0 = min(max((cx - w / 2) * width, 0.0), float(width))
        x1 = min(max((cx + w / 2) * width, 0.0), float(width))
        y0 = min(max((cy - h / 2) * height, 0.0), float(height))
        y1 = min(max((cy + h / 2) * height, 0.0), float(height))
        boxes.append(Box(class_groups[int(cls)], x0, y0, x1, y1, source))
    return boxes


def _merge_two(a: Sequence[Box], b: Sequence[Box], iou_threshold: float,
               keep: str) -> list[Box]:
    pairs = []
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            if p.group == q.group:
                v = box_iou(p, q)
                if v >= iou_threshold:
                    pairs.append((-v, i, j))
    pairs.sort()  # highest IoU first; ties by index, so the result is deterministic
    used_a: dict[int, int] = {}
    used_b: set[int] = set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a[i] = j
            used_b.add(j)
    out = []
    for i, p in enumerate(a):
        if i not in used_a:
            out.append(p)
            continue
        q = b[used_a[i]]
        src = '+'.join(s for s in (p.source, q.source) if s)
        if keep == 'union':
            out.append(Box(p.group, min(p.x0, q.x0), min(p.y0, q.y0),
                           max(p.x1, q.x1), max(p.y1, q.y1), src))
        else:
            out.append(replace(q if q.area > p.area else p, source=src))
    out += [q for j, q in enumerate(b) if j not in used_b]
    return out


def merge_annotations(*sources: Sequence[Box], iou_threshold: float = 0.5,
                      keep: str = 'union') -> list[Box]:
    """
    Union of several annotations of one image, one box per object.

    A box of one source and a box of the next with the same group and IoU
    >= ``iou_threshold`` count once (greedy by highest IoU, one to one);
    ``keep`` is ``'union'`` (the enclosing rectangle, default) or
    ``'larger'`` (the one of larger area, the first on a tie). Sources after
    the second merge into the running result. Unmatched boxes are kept.
    """
    if keep not in ('union', 'larger'):
        raise ValueError(f"keep must be 'union' or 'larger', got {keep!r}")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f'iou_threshold must be in (0, 1], got {iou_threshold}')
    merged: list[Box] = []
    for k, boxes in enumerate(sources):
        merged = list(boxes) if k == 0 else _merge_two(merged, boxes, iou_threshold, keep)
    return merged


def load_boxes(boxes_root: str | Path, name: str, width: int, height: int,
               sources: Sequence[str] = DEFAULT_BOX_SOURCES, iou_threshold: float = 0.5,
               keep: str = 'union') -> list[Box]:
    """Ground-truth boxes of one pair: ``labels/SOURCE/NAME.txt`` of every source, merged."""
    root = Path(boxes_root) / 'labels'
    per_source = [read_yolo_boxes(root / s / f'{name}.txt', width, height, source=s)
                  for s in sources]
    return merge_annotations(*per_source, iou_threshold=iou_threshold, keep=keep)


@dataclass
class _Counts:
    images: int = 0
    boxes: int = 0
    boxes_tall: int = 0
    found: int = 0
    found_tall: int = 0
    predicted_pixels: int = 0
    inside_pixels: int = 0


def _ratio(num: int, den: int) -> float:
    return num / den if den > 0 else math.nan


class BoxScore:
    """
    Accumulates box recall and pixel precision per subset (day / night / all) and group.

    >>> s = BoxScore()
    >>> found = s.update('00004N', mask, boxes)   # mask: (H,W) FMB class ids, boxes: [Box]
    >>> s.summary()['night']['person']['recall_tall']

    ``update`` returns, per box, whether it was found (for drawing).
    """

    def __init__(self, groups: Mapping[str, Sequence[str]] = GROUPS,
                 classes: Sequence[str] = FMB_CLASSES, min_fraction: float = 0.2,
                 tall_px: float = 24.0, enlarge: float = 0.15,
                 ignore_index: int = IGNORE_INDEX):
        if not 0.0 < min_fraction <= 1.0:
            raise ValueError(f'min_fraction must be in (0, 1], got {min_fraction}')
        if enlarge < 0:
            raise ValueError(f'enlarge must be >= 0, got {enlarge}')
        self.groups = {g: tuple(n) for g, n in groups.items()}
        self.classes = tuple(classes)
        self.group_ids = group_class_ids(self.groups, self.classes)
        self.min_fraction = float(min_fraction)
        self.tall_px = float(tall_px)
        self.enlarge = float(enlarge)
        self.ignore_index = ignore_index
        self.counts = {s: {g: _Counts() for g in self.groups} for s in SUBSETS}

    def _check_mask(self, mask) -> np.ndarray:
        m = np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f'mask must be (H, W) class ids, got shape {m.shape}')
        if not np.issubdtype(m.dtype, np.integer):
            raise TypeError(f'mask: expected integer class ids, got dtype {m.dtype}')
        values = np.unique(m)
        bad = values[((values < 0) | (values >= len(self.classes)))
                     & (values != self.ignore_index)]
        if bad.size:
            raise ValueError(f'mask has ids outside 0..{len(self.classes) - 1} '
                             f'(and not {self.ignore_index}): {bad[:10].tolist()}')
        return m

    def update(self, name_or_is_night: str | bool, mask, boxes: Sequence[Box]) -> list[bool]:
        """Score one image; returns found (True / False) per box, in the order given."""
        m = self._check_mask(mask)
        h, w = m.shape
        unknown = sorted({b.group for b in boxes} - set(self.groups))
        if unknown:
            raise ValueError(f'box group(s) {unknown} not among {list(self.groups)}')
        subsets = ['all'] + [s for s in (subset_of(name_or_is_night),) if s]
        found_flags = [False] * len(boxes)
        for g, ids in self.group_ids.items():
            pred = np.isin(m, ids)
            # integral image: any box's hit count in four lookups
            integral = np.zeros((h + 1, w + 1), dtype=np.int64)
            integral[1:, 1:] = pred.cumsum(0).cumsum(1)
            n_boxes = n_tall = n_found = n_found_tall = 0
            for k, b in enumerate(boxes):
                if b.group != g:
                    continue
                c0, r0, c1, r1 = box_pixel_bounds(b, w, h)
                hits = int(integral[r1, c1] - integral[r0, c1] - integral[r1, c0]
                           + integral[r0, c0])
                found = hits >= self.min_fraction * (r1 - r0) * (c1 - c0) - _EPS
                tall = b.height >= self.tall_px - 1e-6
                found_flags[k] = found
                n_boxes += 1
                n_tall += tall
                n_found += found
                n_found_tall += found and tall
            inside = int((pred & box_pixel_mask(boxes, (h, w), self.enlarge, g)).sum())
            predicted = int(pred.sum())
            for s in subsets:
                c = self.counts[s][g]
                c.images += 1
                c.boxes += n_boxes
                c.boxes_tall += n_tall
                c.found += n_found
                c.found_tall += n_found_tall
                c.predicted_pixels += predicted
                c.inside_pixels += inside
        return found_flags

    def summary(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """Subset -> group -> ``METRIC_NAMES`` (ratios NaN where the count below is 0)."""
        out: dict[str, dict[str, dict[str, float | int]]] = {}
        for s in SUBSETS:
            out[s] = {}
            for g, c in self.counts[s].items():
                out[s][g] = {
                    'images': c.images,
                    'boxes': c.boxes,
                    'boxes_tall': c.boxes_tall,
                    'found': c.found,
                    'found_tall': c.found_tall,
                    'recall': _ratio(c.found, c.boxes),
                    'recall_tall': _ratio(c.found_tall, c.boxes_tall),
                    'predicted_pixels': c.predicted_pixels,
                    'inside_pixels': c.inside_pixels,
                    'precision': _ratio(c.inside_pixels, c.predicted_pixels),
                }
        return out
