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
Overlays for the box scoring (``evaluate_segmentation``): masks over images, boxes drawn on top.

Apart from the scoring so that ``box_protocol`` stays one job (read, score,
report) and a figure script can draw the same rows.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .metrics.boxes import subset_of


__all__ = ['GROUP_COLOURS', 'legend_strip', 'overlay_row', 'pick_overlay_names', 'write_rgb']

#: box colour per group on the overlays (RGB), chosen to stand out from the FMB palette.
GROUP_COLOURS = {'person': (0, 255, 0), 'car': (255, 160, 0), 'bicycle': (255, 255, 0)}


def pick_overlay_names(names: Sequence[str], n: int) -> list[str]:
    """Pick ``n`` names spread over the list, half night, half day (more day when odd)."""
    if n <= 0:
        return []
    day = [x for x in names if subset_of(x) == 'day']
    night = [x for x in names if subset_of(x) == 'night']
    other = [x for x in names if subset_of(x) is None]
    n_night = min(len(night), n // 2)
    n_day = min(len(day), n - n_night)
    n_night = min(len(night), n - n_day)
    n_other = min(len(other), n - n_day - n_night)

    def spread(items, k):
        if k <= 0:
            return []
        return [items[i] for i in np.linspace(0, len(items) - 1, k).round().astype(int)]

    picked = set(spread(day, n_day) + spread(night, n_night) + spread(other, n_other))
    return [x for x in names if x in picked]


def _label(img: np.ndarray, text: str, org=(4, 4)) -> None:
    import cv2

    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    x, y = org
    cv2.rectangle(img, (x, y), (x + tw + 6, y + th + base + 4), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 3, y + th + 2), font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def _cell(img: np.ndarray, width: int) -> np.ndarray:
    import cv2

    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    h, w = img.shape[:2]
    return cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _draw_boxes(img: np.ndarray, boxes, scale: float, found=None) -> None:
    import cv2

    for k, b in enumerate(boxes):
        colour = GROUP_COLOURS.get(b.group, (255, 255, 255))
        thick = 1 if found is not None and not found[k] else 2
        p0 = (round(b.x0 * scale), round(b.y0 * scale))
        p1 = (max(p0[0], round(b.x1 * scale) - 1), max(p0[1], round(b.y1 * scale) - 1))
        cv2.rectangle(img, p0, p1, colour, thick)


def overlay_row(name: str, visible: np.ndarray, thermal: np.ndarray,
                panels: Sequence[tuple[str, np.ndarray, np.ndarray, Sequence[bool]]],
                boxes, cell_width: int = 320, alpha: float = 0.5) -> np.ndarray:
    """
    One RGB row: visible (with boxes), thermal, then per method its mask over its image.

    ``panels`` are (method, base image RGB, mask, found flags per box). Class
    0 and ignored pixels are left unpainted; found boxes are drawn thick,
    missed ones thin, one colour per group (``GROUP_COLOURS``).
    """
    from ros2_ssvif.classes import FMB_PALETTE

    lut = np.zeros((256, 3), np.uint8)
    lut[:len(FMB_PALETTE)] = np.asarray(FMB_PALETTE, np.uint8)
    scale = cell_width / visible.shape[1]
    vis = _cell(visible, cell_width)
    _draw_boxes(vis, boxes, scale)
    _label(vis, f'{name} visible')
    thr = _cell(thermal, cell_width)
    _label(thr, 'thermal')
    cells = [vis, thr]
    for method, base, mask, found in panels:
        base = base if base is not None else visible
        if base.ndim == 2:
            base = np.repeat(base[..., None], 3, axis=2)
        paint = (mask > 0) & (mask < len(FMB_PALETTE))
        blend = base.astype(np.float32)
        blend[paint] = (1 - alpha) * blend[paint] + alpha * lut[mask[paint]]
        cell = _cell(np.clip(blend + 0.5, 0, 255).astype(np.uint8), cell_width)
        _draw_boxes(cell, boxes, scale, found)
        _label(cell, f'{method}: found {sum(found)}/{len(found)}')
        cells.append(cell)
    return np.concatenate(cells, axis=1)


def legend_strip(width: int) -> np.ndarray:
    """Draw a white strip that names the group colours and what thick and thin boxes mean."""
    import cv2

    strip = np.full((22, width, 3), 255, np.uint8)
    x = 6
    for g, colour in GROUP_COLOURS.items():
        cv2.rectangle(strip, (x, 5), (x + 14, 16), colour, -1)
        cv2.putText(strip, g, (x + 18, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
        x += 30 + 9 * len(g)
    cv2.putText(strip, 'boxes: thick = found (>= 20 % of pixels), thin = missed', (x + 10, 15),
                cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def write_rgb(path: Path, img: np.ndarray) -> None:
    """Write an RGB array as an image file (OpenCV wants BGR); raise OSError if it cannot."""
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1])):
        raise OSError(f'cannot write {path}')
