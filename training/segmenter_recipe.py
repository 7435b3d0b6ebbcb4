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
The segmenter recipe for real pairs: inputs made once, ``ssvif_make_labels`` labels, box scores.

The mask the node publishes comes from a segmenter fed what the node feeds
it: the frozen fusion network's output. The same recipe trains a segmenter
on any other input (one camera, a one-line rule, another framework's fusion)
so the benefit of fusion is a measured difference with everything else held
fixed: same labels, same network, same seed, same steps.

    inputs = make_inputs(source, pairs)              # name -> uint8 RGB the segmenter sees
    samples = labelled_samples(inputs, label_dirs)   # + labels, augmented
    result = train_segmenter(None, samples, None, cfg, validate=box_validator(...))

Scores on real boxes (``evaluation.metrics.boxes``) replace mIoU here: the
real pairs have no pixel labels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import cv2
from evaluation.metrics.boxes import BoxScore, load_boxes
import numpy as np
from ros2_ssvif.thermal import ThermalNormalizer
import torch
from training.data.pairs import Pair, read_thermal, read_visible
from training.data.segmentation import Augment, SegmentationSamples


__all__ = ['box_score', 'box_validator', 'labelled_samples', 'make_inputs', 'predict_ids',
           'validation_score']


@torch.no_grad()
def make_inputs(source: torch.nn.Module, pairs: Sequence[Pair],
                progress: bool = False) -> dict[str, np.ndarray]:
    """
    Name -> the uint8 RGB image ``source`` makes of each pair (rounded as the export rounds).

    ``source`` has the FusionModel interface (``source(visible, thermal).fused``):
    a fusion network or a ``training.models.baseline_fusion.BaselineFusion``.
    Thermal is normalised like the node's stills (8-bit as given).
    """
    from tqdm import tqdm

    norm = ThermalNormalizer(video=False)
    source = source.eval()
    out = {}
    for p in tqdm(pairs, desc='segmenter inputs', disable=not progress):
        vis, thr = read_visible(p.visible)[None], read_thermal(p.thermal, norm)[None]
        fused = source(vis, thr).fused[0].clamp(0.0, 1.0)
        out[p.name] = (fused * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return out


def labelled_samples(inputs: Mapping[str, np.ndarray], label_dirs: Sequence[str | Path],
                     names: Sequence[str], augment: Augment = Augment(),
                     seed: int = 0) -> SegmentationSamples:
    """Return samples of ``names``: each input with the first ``label_dirs``' ``NAME.png``."""
    items = []
    for name in names:
        path = next((Path(d) / f'{name}.png' for d in label_dirs
                     if (Path(d) / f'{name}.png').is_file()), None)
        if path is None:
            raise FileNotFoundError(f'no label {name}.png in {", ".join(map(str, label_dirs))} '
                                    '(make them with ssvif_make_labels)')
        label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if label is None or label.ndim != 2:
            raise ValueError(f'{path}: not a single-channel 8-bit label image')
        items.append((name, inputs[name], label))
    return SegmentationSamples(items, augment, seed)


@torch.no_grad()
def predict_ids(model, image: np.ndarray) -> np.ndarray:
    """Class ids (uint8, H x W) of one uint8 RGB input, as the exported graph computes them."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    h, w = image.shape[:2]
    ph, pw = (-h) % 32, (-w) % 32  # the node pads to a multiple of 32 at the bottom/right
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph))
    ids = model.class_ids(x) if hasattr(model, 'class_ids') else model(x).argmax(1)
    return ids[0, :h, :w].to(torch.uint8).numpy()


def box_score(model, inputs: Mapping[str, np.ndarray], names: Sequence[str],
              boxes_root: str | Path) -> BoxScore:
    """Box recall / precision of ``model`` on ``names`` (module evaluation.metrics.boxes)."""
    score = BoxScore()
    model.eval()
    for name in names:
        img = inputs[name]
        boxes = load_boxes(boxes_root, name, img.shape[1], img.shape[0])
        score.update(name, predict_ids(model, img), boxes)
    return score


def validation_score(summary: dict) -> float:
    """
    One number to select on: the mean of person and car recall (>= 24 px) and precision.

    Day and night weigh the same; a group with no prediction counts 0 precision.
    """
    vals = []
    for sub in ('day', 'night'):
        for group in ('person', 'car'):
            g = summary[sub][group]
            for key in ('recall_tall', 'precision'):
                v = g[key]
                vals.append(0.0 if v is None or not np.isfinite(v) else float(v))
    return float(np.mean(vals))


def box_validator(inputs: Mapping[str, np.ndarray], names: Sequence[str],
                  boxes_root: str | Path) -> Callable:
    """``validate(model) -> validation_score`` for ``train_segmenter``'s early stopping."""
    def validate(model) -> float:
        return validation_score(box_score(model, inputs, names, boxes_root).summary())

    return validate
