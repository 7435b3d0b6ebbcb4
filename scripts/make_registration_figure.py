#!/usr/bin/env python3

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
Draw the README's registration figure: ghosting before, autocorrected after.

Real pairs from ``../shared/data/ivf_seafusion_test12`` (Linfeng-Tang/VIF-Benchmark,
MIT licence; the only shared data a figure may show), fused by the shipped
default model through the node's own pipeline (``FramePipeline.run_arrays``):

* 00633D, whose registration is good (the monitor reads under 1 px), with
  its thermal image knocked 6 px right and 3 px down, as a bumped camera would;
* 00556D as published, where the monitor reads thermal about 6.5 px low.

For each: the fused image as it comes, then with the thermal translated
back by what the monitor measured (``registrar.set_thermal_offset``, what
``registration_autocorrect`` does), each with a 3x zoom of the region with
the most thermal edges.

    python scripts/make_registration_figure.py [--data ../shared/data] \
        [--output docs/registration_monitor.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

import cv2
import numpy as np


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ros2_ssvif.alignment import estimate_shift  # noqa: E402, I100
from ros2_ssvif.model_runner import FusionSegmenter  # noqa: E402
from ros2_ssvif.package_files import default_model_path  # noqa: E402
from ros2_ssvif.pipeline import FramePipeline  # noqa: E402
from ros2_ssvif.registration import PassThroughRegistrar  # noqa: E402
from ros2_ssvif.thermal import ThermalNormalizer  # noqa: E402

CASES = (('00633D', (6.0, 3.0)), ('00556D', (0.0, 0.0)))
ZOOM, CROP = 3, (110, 160)  # zoom factor; crop width, height before zooming (3 x 160 = 480)


def _px(v: float) -> str:
    return f'{round(v, 1) + 0.0:+.1f}'  # no '-0.0'


def knock(ir: np.ndarray, shift) -> np.ndarray:
    h, w = ir.shape[:2]
    return cv2.warpAffine(ir, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (w, h),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def busiest(thermal01: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the CROP window with the most thermal gradient energy."""
    g = cv2.magnitude(cv2.Sobel(thermal01, cv2.CV_32F, 1, 0),
                      cv2.Sobel(thermal01, cv2.CV_32F, 0, 1))
    box = cv2.boxFilter(g, -1, CROP, normalize=False, anchor=(0, 0))
    h, w = g.shape
    box = box[:h - CROP[1], :w - CROP[0]]
    y, x = np.unravel_index(np.argmax(box), box.shape)
    return int(x), int(y)


def panel(fused: np.ndarray, corner, title: str, note: str) -> np.ndarray:
    x, y = corner
    img = cv2.cvtColor(fused, cv2.COLOR_RGB2BGR)
    crop = cv2.resize(img[y:y + CROP[1], x:x + CROP[0]], None, fx=ZOOM, fy=ZOOM,
                      interpolation=cv2.INTER_NEAREST)
    cv2.rectangle(img, (x, y), (x + CROP[0], y + CROP[1]), (0, 255, 255), 2)
    h = img.shape[0]
    crop = cv2.copyMakeBorder(crop, 0, h - crop.shape[0], 0, 0, cv2.BORDER_CONSTANT)
    out = np.hstack([img, crop])
    band = np.full((54, out.shape[1], 3), 255, np.uint8)
    for k, text in enumerate((title, note)):
        cv2.putText(band, text, (8, 22 + 24 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.62, (0, 0, 0),
                    1 + (k == 0), cv2.LINE_AA)
    return np.vstack([band, out])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--data', type=Path, default=REPO.parent / 'shared' / 'data')
    ap.add_argument('--output', type=Path, default=REPO / 'docs' / 'registration_monitor.png')
    args = ap.parse_args(argv)
    src = args.data / 'ivf_seafusion_test12'
    if not src.is_dir():
        print(f'make_registration_figure: {src} not found (--data)', file=sys.stderr)
        return 2
    model = FusionSegmenter(default_model_path())
    rows = []
    for stem, shift in CASES:
        vis = cv2.cvtColor(cv2.imread(str(src / 'vi' / f'{stem}.png')), cv2.COLOR_BGR2RGB)
        ir = knock(cv2.imread(str(src / 'ir' / f'{stem}.png'), cv2.IMREAD_GRAYSCALE), shift)
        registrar = PassThroughRegistrar()
        pipeline = FramePipeline(model, registrar, ThermalNormalizer().for_stills())
        before = pipeline.run_arrays(vis, ir)
        est = estimate_shift(before.visible, before.thermal01)
        registrar.set_thermal_offset(est.dx, est.dy)
        after = pipeline.run_arrays(vis, ir)
        left = estimate_shift(after.visible, after.thermal01)
        corner = busiest(after.thermal01)
        what = (f'thermal knocked by ({shift[0]:+.0f}, {shift[1]:+.0f}) px' if any(shift)
                else 'as published')
        rows.append(np.hstack([
            panel(before.fused, corner, f'{stem}, {what}: fused',
                  f'monitor reads ({est.dx:+.1f}, {est.dy:+.1f}) px, confidence '
                  f'{est.confidence:.2f}: WARN (> 2 px)'),
            np.full((before.fused.shape[0] + 54, 12, 3), 255, np.uint8),
            panel(after.fused, corner, 'autocorrected: thermal remap shifted back',
                  f'monitor reads ({_px(left.dx)}, {_px(left.dy)}) px left: OK'),
        ]))
        print(f'{stem}: {what}; monitor ({est.dx:+.2f}, {est.dy:+.2f}) px conf '
              f'{est.confidence:.2f}; after correction ({left.dx:+.2f}, {left.dy:+.2f}) px')
    gap = np.full((12, rows[0].shape[1], 3), 255, np.uint8)
    figure = np.vstack([rows[0], gap, rows[1]])
    figure = cv2.resize(figure, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), figure, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'wrote {args.output} ({figure.shape[1]}x{figure.shape[0]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
