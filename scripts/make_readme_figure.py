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
Draw the README's first picture: the shipped model on real day and night pairs.

The MSRS pairs of ``../shared/data/ivf_seafusion_test12`` (Linfeng-Tang/VIF-Benchmark,
MIT licence; the only shared data a figure may show; none of them, nor their
neighbouring frames, is in any training split: config/data/README.md), run
through the node's own pipeline (``FramePipeline.run_arrays``, thermal
normalised for stills) with the default model: visible, thermal, the fused
image, and the published mask over the fused image with a legend of the
classes it shows.

    python scripts/make_readme_figure.py [--data ../shared/data] [--model M] \
        [--output docs/real_pairs.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

import cv2
import numpy as np


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ros2_ssvif.fuse_images import read_thermal_raw, read_visible_u8  # noqa: E402, I100
from ros2_ssvif.model_runner import FusionSegmenter  # noqa: E402
from ros2_ssvif.package_files import default_model_path  # noqa: E402
from ros2_ssvif.pipeline import FramePipeline  # noqa: E402
from ros2_ssvif.registration import PassThroughRegistrar  # noqa: E402
from ros2_ssvif.thermal import ThermalNormalizer  # noqa: E402

NAMES = ('00537D', '00633D', '00858N', '01023N')
CELL_W = 320
TITLES = ('visible', 'thermal', 'fused', 'mask over fused')


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.5) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _cell(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    h, w = img.shape[:2]
    return cv2.resize(img, (CELL_W, round(h * CELL_W / w)), interpolation=cv2.INTER_AREA)


def figure(data: Path, model: Path) -> np.ndarray:
    bundle = FusionSegmenter(model)
    palette = np.array(bundle.metadata.palette, np.uint8)
    names = bundle.class_names
    rows, seen = [], set()
    pipe = FramePipeline(bundle, PassThroughRegistrar(), ThermalNormalizer().for_stills())
    for name in NAMES:
        vis = read_visible_u8(data / 'vi' / f'{name}.png')
        raw = read_thermal_raw(data / 'ir' / f'{name}.png')
        res = pipe.run_arrays(vis, raw)
        fused, ids = res.fused, res.mask
        over = (0.45 * fused + 0.55 * palette[ids]).astype(np.uint8)
        seen.update(int(i) for i in np.unique(ids))
        th8 = raw if raw.dtype == np.uint8 else cv2.normalize(raw, None, 0, 255, cv2.NORM_MINMAX,
                                                              cv2.CV_8U)
        cells = [_cell(x) for x in (vis, th8, fused, over)]
        _text(cells[0], name + (' (day)' if name.endswith('D') else ' (night)'), (6, 18))
        rows.append(np.hstack(cells))
    head = np.full((24, rows[0].shape[1], 3), 255, np.uint8)
    for i, t in enumerate(TITLES):
        cv2.putText(head, t, (i * CELL_W + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    legend = np.full((26, rows[0].shape[1], 3), 255, np.uint8)
    x = 6
    for i in sorted(seen):
        cv2.rectangle(legend, (x, 6), (x + 14, 20), tuple(int(c) for c in palette[i]), -1)
        cv2.putText(legend, names[i], (x + 18, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        x += 26 + 9 * len(names[i])
    return np.vstack([head] + rows + [legend])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--data',
                    default=str(REPO.parent / 'shared' / 'data' / 'ivf_seafusion_test12'))
    ap.add_argument('--model', default=str(default_model_path()))
    ap.add_argument('--output', default=str(REPO / 'docs' / 'real_pairs.png'))
    args = ap.parse_args(argv)
    img = figure(Path(args.data), Path(args.model))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.output, cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'make_readme_figure: wrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
