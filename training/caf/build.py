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
Building CAF's parts: the loss space, the task network, the beta file.

Shared by the search (``training.caf.search``), its command
(``training.caf.cli``), the retraining framework
(``training.frameworks.caf``) and bi-level dynamic learning (which uses
the same task networks), so none of them imports another's internals. The
search's labelled data come from ``training.data.labelled``.

``beta.yaml`` (the search's result) holds ``searched`` (term: beta),
``alpha`` (the logits), ``fixed`` (term: weight), ``scales``,
``perceptual_weights`` (absolute path or null) and ``search`` (where it
came from); :func:`write_beta_file` writes it atomically.
"""
from __future__ import annotations

import os
from pathlib import Path
import tempfile
from typing import Any, Mapping

import torch
from training.caf.space import CAFLossSpace
import yaml


__all__ = ['build_space', 'build_task_model', 'load_task_weights', 'write_beta_file',
           'read_beta_file', 'check_beta_doc']


def build_space(space_cfg, base_dir: str | Path = '.') -> CAFLossSpace:
    """
    Build the CAFLossSpace a SpaceConfig (or a beta file's mapping) describes.

    May load VGG-16.
    """
    get = (
        space_cfg.get
        if isinstance(space_cfg, dict)
        else lambda k, d=None: getattr(space_cfg, k, d)
    )
    perceptual = None
    if get('perceptual_weights'):
        from training.losses.perceptual import load_vgg16_features, PerceptualLoss

        p = Path(get('perceptual_weights'))
        perceptual = PerceptualLoss(
            load_vgg16_features(p if p.is_absolute() else Path(base_dir) / p)
        )
    return CAFLossSpace(list(get('searched')), dict(get('fixed') or {}), dict(get('scales') or {}),
                        perceptual)


def build_task_model(task_cfg) -> torch.nn.Module:
    """Perception network T: the compact CNN segmenter (CPU) or a SegFormer from scratch."""
    if task_cfg.model == 'compact':
        from training.models.compact_segmenter import CompactSegmenter

        return CompactSegmenter(int(task_cfg.num_classes), width=int(task_cfg.width))
    from training.models.segformer import SegmentationModel

    return SegmentationModel(task_cfg.model, int(task_cfg.num_classes))


def load_task_weights(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """
    Load starting weights into the task network T (``task.init`` of the loss search).

    ``path``: a file ``torch.save`` wrote (read with ``weights_only=True``)
    holding T's state dict, bare, under ``state_dict``, or as a loss search's
    ``last.pt`` (``models.task``). Strict: a missing, extra or misshapen
    tensor is a ``ConfigError`` naming the file, not a half-loaded network.
    """
    from training.config import ConfigError

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'task.init: no weights file at {path}')
    try:
        doc = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # corrupt, truncated, or pickled objects
        raise ConfigError(f'task.init: cannot read {path} ({type(e).__name__})') from None
    if isinstance(doc, Mapping) and isinstance(doc.get('models'), Mapping):
        doc = doc['models'].get('task')
    elif isinstance(doc, Mapping) and isinstance(doc.get('state_dict'), Mapping):
        doc = doc['state_dict']
    if not isinstance(doc, Mapping) or not all(torch.is_tensor(v) for v in doc.values()):
        raise ConfigError(f'task.init: {path} holds no task network state dict')
    own = model.state_dict()
    missing = sorted(set(own) - set(doc))
    extra = sorted(set(doc) - set(own))
    shapes = sorted(k for k in set(own) & set(doc) if own[k].shape != doc[k].shape)
    for what, keys in (('missing', missing), ('unexpected', extra), ('misshapen', shapes)):
        if keys:
            raise ConfigError(f'task.init: {path} does not fit task.model/width/num_classes: '
                              f'{len(keys)} {what} tensor(s), e.g. {keys[0]}')
    model.load_state_dict(dict(doc))
    return model


def write_beta_file(path: str | Path, space: CAFLossSpace, alpha: torch.Tensor, info: dict,
                    perceptual_weights: str | None = None) -> Path:
    """Write the found loss as YAML (atomic): what the ``caf`` framework retrains with."""
    beta = CAFLossSpace.beta(alpha.detach().double())
    doc = {'searched': {n: float(b) for n, b in zip(space.searched, beta)},
           'alpha': {n: float(a) for n, a in zip(space.searched, alpha.detach())},
           'fixed': dict(space.fixed), 'scales': dict(space.scales),
           'perceptual_weights': perceptual_weights, 'search': info}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    with os.fdopen(fd, 'w') as f:
        f.write(
            '# CAF loss search result (ssvif_search_loss): beta = softmax(alpha) over the\n'
            '# searched terms, fixed terms keep their weight; retrain with framework: caf.\n'
        )
        yaml.safe_dump(doc, f, sort_keys=False)
    os.replace(tmp, path)
    return path


def check_beta_doc(doc: Any, where: str) -> dict:
    """``doc`` if it is a loss search result (a non-empty ``searched`` mapping of term: beta)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get('searched'), Mapping) \
            or not doc['searched']:
        raise ValueError(
            f"{where}: not a loss search result (needs a 'searched' mapping of term: beta)"
        )
    return dict(doc)


def read_beta_file(path: str | Path) -> dict:
    """
    Read the mapping :func:`write_beta_file` wrote.

    Searched, fixed, scales, perceptual_weights.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise ValueError(f'loss file not found: {path}') from None
    except yaml.YAMLError as e:
        raise ValueError(f'{path}: not valid YAML ({str(e).splitlines()[0]})') from None
    return check_beta_doc(doc, str(path))
