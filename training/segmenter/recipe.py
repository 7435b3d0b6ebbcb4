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

    recipe = load_recipe('config/training/default_segmenter.yaml')
    result = train_recipe(source, data_root, label_root, recipe, 'seg.pt')

which is ``make_inputs`` (name -> the uint8 RGB the segmenter sees),
``labelled_samples`` (+ the labels of ``ssvif_make_labels``, augmented) and
``train_segmenter`` (fusion None: the inputs are made already).

Scores on real boxes (``evaluation.metrics.boxes``) replace mIoU here: the
real pairs have no pixel labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import cv2
from evaluation.metrics.boxes import BoxScore, load_boxes
import numpy as np
from ros2_ssvif.thermal import ThermalNormalizer
import torch
from training.data.pairs import Pair, read_thermal, read_visible
from training.data.segmentation import Augment, SegmentationSamples


__all__ = ['Recipe', 'box_score', 'box_validator', 'labelled_samples', 'load_recipe',
           'make_inputs', 'predict_ids', 'recipe_pairs', 'train_recipe', 'validation_score']

#: the real sets the recipe trains on, under the shared data folder (labels: ``ssvif_make_labels``)
BOXES_SET = 'msrs_test_dev'
PAIRS_SET = 'ivf_roadscene221'
PAIRS_LIST = 'train_split.txt'


@dataclass
class Recipe:
    """
    Everything that decides a segmenter trained on real labels, besides its input.

    ``segmenter``: a ``training.segmenter.SegmenterConfig``; ``augment``:
    the sample augmentation; ``boxes_repeat``: how often each boxed MSRS pair
    is seen per epoch against once for each RoadScene pair (the boxes are
    the only night labels); ``pairs``: whether RoadScene trains at all.
    """

    segmenter: object
    augment: Augment = field(default_factory=Augment)
    boxes_repeat: int = 1
    pairs: bool = True


def load_recipe(path: str | Path, sets: Sequence[str] = ()) -> Recipe:
    """
    Read a recipe YAML (``segmenter:``, ``augment:``, ``boxes_repeat``, ``pairs``).

    ``sets``: ``KEY=VALUE`` overrides, ``segmenter.epochs=2`` or ``augment.crop=64``.
    """
    from ros2_ssvif.safe_files import read_yaml_file
    from training.config import ConfigError
    from training.segmenter.model import SegmenterConfig
    import yaml

    raw = read_yaml_file(path, 'segmenter recipe') or {}
    for item in sets:
        key, sep, val = str(item).partition('=')
        section, _, name = key.partition('.')
        if not sep or not name and section not in ('boxes_repeat', 'pairs'):
            raise ConfigError(f'recipe override {item!r}: expected SECTION.KEY=VALUE')
        if name:
            raw.setdefault(section, {})[name] = yaml.safe_load(val)
        else:
            raw[section] = yaml.safe_load(val)
    unknown = set(raw) - {'segmenter', 'augment', 'boxes_repeat', 'pairs'}
    if unknown:
        raise ConfigError(f'{path}: unknown recipe key(s) {", ".join(sorted(unknown))}')

    def build(cls, values, what):
        known = {f.name for f in fields(cls)}
        bad = set(values or {}) - known
        if bad:
            raise ConfigError(f'{path}: unknown {what} key(s) {", ".join(sorted(bad))}; '
                              f'known: {", ".join(sorted(known))}')
        return cls(**(values or {}))

    aug = dict(raw.get('augment') or {})
    if 'scale' in aug:
        aug['scale'] = tuple(float(v) for v in aug['scale'])
    return Recipe(build(SegmenterConfig, raw.get('segmenter'), 'segmenter'),
                  build(Augment, aug, 'augment'), int(raw.get('boxes_repeat', 1)),
                  bool(raw.get('pairs', True)))


def recipe_pairs(data_root: str | Path, boxes_names: Sequence[str],
                 use_pairs: bool = True) -> tuple[list[Pair], list[Pair]]:
    """Return (the named MSRS pairs with boxes, the RoadScene training pairs or none)."""
    from training.data import source_pairs

    data_root = Path(data_root)
    boxed = {p.name: p for p in source_pairs('pairs', data_root / BOXES_SET)}
    missing = [n for n in boxes_names if n not in boxed]
    if missing:
        raise FileNotFoundError(f'{data_root / BOXES_SET}: no pair {missing[0]}')
    pairs = (source_pairs('pairs', data_root / PAIRS_SET, list_file=PAIRS_LIST)
             if use_pairs else [])
    return [boxed[n] for n in boxes_names], pairs


def train_recipe(source: torch.nn.Module, data_root: str | Path, label_root: str | Path,
                 recipe: Recipe, output: str | Path | None, boxes_names: Sequence[str],
                 dev_names: Sequence[str] = (), progress: bool = True,
                 inputs: dict | None = None):
    """
    Train the recipe's segmenter on what ``source`` makes of the real training pairs.

    ``boxes_names``: the MSRS pairs trained on (their labels in
    ``label_root/msrs_test_dev``); ``dev_names``: MSRS pairs scored after
    every epoch (the best epoch is kept); without them the schedule runs to
    its end and the epoch with the lowest training loss is kept. ``inputs``
    may hold inputs made already (name -> uint8). Returns
    ``training.segmenter.SegmenterResult``.
    """
    from training.checkpoint import model_fingerprint
    from training.segmenter.train import train_segmenter

    boxed, pairs = recipe_pairs(data_root, list(boxes_names) + list(dev_names), recipe.pairs)
    if inputs is None:
        inputs = make_inputs(source, boxed + pairs, progress,
                             with_thermal=recipe.segmenter.in_channels == 4)
    label_root = Path(label_root)
    names = list(boxes_names) * max(1, recipe.boxes_repeat) + [p.name for p in pairs]
    samples = labelled_samples(inputs, [label_root / BOXES_SET, label_root / PAIRS_SET], names,
                               recipe.augment, seed=recipe.segmenter.seed,
                               class_set=recipe.segmenter.class_set)
    cfg = replace(recipe.segmenter, crop=None)  # the samples crop themselves
    if not dev_names:
        cfg = replace(cfg, patience=cfg.epochs + 1)
    validate = (box_validator(inputs, list(dev_names), Path(data_root) / BOXES_SET)
                if dev_names else None)
    try:
        fingerprint = model_fingerprint(source)
    except (AttributeError, RuntimeError):
        fingerprint = None
    return train_segmenter(None, samples, None, cfg, output, progress=progress,
                           validate=validate, source_fingerprint=fingerprint)


@torch.no_grad()
def make_inputs(source: torch.nn.Module, pairs: Sequence[Pair], progress: bool = False,
                with_thermal: bool = False) -> dict[str, np.ndarray]:
    """
    Name -> the uint8 image ``source`` makes of each pair (rounded as the export rounds).

    ``source`` has the FusionModel interface (``source(visible, thermal).fused``):
    a fusion network or a ``training.models.baseline_fusion.BaselineFusion``.
    Thermal is normalised like the node's stills (8-bit as given).
    ``with_thermal``: a fourth channel holds that thermal image (what a
    4-channel segmenter sees in the exported graph).
    """
    from tqdm import tqdm

    norm = ThermalNormalizer(video=False)
    source = source.eval()
    out = {}
    for p in tqdm(pairs, desc='segmenter inputs', disable=not progress):
        vis, thr = read_visible(p.visible)[None], read_thermal(p.thermal, norm)[None]
        fused = source(vis, thr).fused[0].clamp(0.0, 1.0)
        if with_thermal:
            fused = torch.cat([fused, thr[0].clamp(0.0, 1.0)], dim=0)
        out[p.name] = (fused * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return out


def labelled_samples(inputs: Mapping[str, np.ndarray], label_dirs: Sequence[str | Path],
                     names: Sequence[str], augment: Augment = Augment(),
                     seed: int = 0, class_set: str = 'fmb') -> SegmentationSamples:
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
    from ros2_ssvif.classes import CLASS_SETS
    from training.labels import is_object_class

    objects = [i for i, n in enumerate(CLASS_SETS[class_set][0]) if is_object_class(n)]
    return SegmentationSamples(items, augment, seed, object_ids=objects)


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
