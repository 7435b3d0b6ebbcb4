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
Atomic, weights-only checkpoints and the RNG state they carry.

Why atomic: a run killed while writing must leave the previous ``last.pt``
intact, so the file is written to a temporary name in the same folder and
moved over the old one with ``os.replace`` (atomic on POSIX and Windows).

Why plain types only: checkpoints are read with ``torch.load(...,
weights_only=True)``, which refuses arbitrary pickled objects. State dicts,
the config (as a dict), history (list of dicts of numbers) and RNG states
(as tensors / int lists) are all allowed types.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
import random
import tempfile
from typing import Any

import numpy as np
from ros2_ssvif.errors import SsvifError
import torch


__all__ = [
    'CheckpointError',
    'save_checkpoint',
    'load_checkpoint',
    'load_fusion_model',
    'rng_state',
    'set_rng_state',
    'resolve_resume',
    'check_resumable',
]

FORMAT = 1


class CheckpointError(SsvifError, RuntimeError):
    """A checkpoint is missing, unreadable or from another format."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (tmp file in the same dir + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save({'format': FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def model_fingerprint(model: torch.nn.Module) -> str:
    """
    Return a short sha256 of a network's weights (names and values, in order).

    A segmenter records the fingerprint of the fusion network whose images it
    was trained on, so ``ssvif_export`` can say when it is paired with another.
    """
    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """
    Read a checkpoint on CPU with ``weights_only=True``.

    A clear error if it is not one of ours.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # corrupt / truncated / foreign pickle
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        if 'Weights only load failed' in why:  # never pass on torch's advice to unpickle it
            why = 'it holds Python objects, not only tensors (not written by this project)'
        raise CheckpointError(f'cannot read checkpoint {path}: {why}') from None
    if not isinstance(state, dict) or state.get('format') != FORMAT:
        raise CheckpointError(f'{path} is not an ssvif_train checkpoint (format {FORMAT})')
    return state


def resolve_resume(resume: str | Path | None, output_dir: str | Path) -> Path | None:
    """
    Resolve ``resume``: ``"auto"`` -> ``output_dir/last.pt`` if present.

    Else None, a fresh start; a path must exist.
    """
    if resume is None:
        return None
    if str(resume) == 'auto':
        cand = Path(output_dir) / 'last.pt'
        return cand if cand.is_file() else None
    p = Path(resume)
    if not p.is_file():
        raise CheckpointError(f'--resume: no checkpoint at {p}')
    return p


def check_resumable(state: dict[str, Any], config: dict[str, Any],
                    modules: dict[str, torch.nn.Module | None], framework: str) -> None:
    """
    Raise ValueError when ``state`` cannot continue a run of ``config`` with ``modules``.

    Other model settings, or a module one side has and the other not. Said
    before ``load_state_dict``, whose message would list every tensor.
    """
    was = (state.get('config') or {}).get('model') or {}
    now = config.get('model') or {}
    differ = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    if was and differ:
        k = differ[0]
        raise ValueError(f'the checkpoint was trained with model.{k}={was.get(k)!r}, the '
                         f'config says {now.get(k)!r}: resume with the same model settings '
                         'or train into a new output folder')
    saved = state['models']
    for name in sorted(set(saved) | set(modules)):
        if (saved.get(name) is None) != (modules.get(name) is None):
            raise ValueError(f'checkpoint and config disagree on the module {name!r} '
                             f'(framework {framework!r}, csc, model settings)')


def rng_state() -> dict[str, Any]:
    """Return the torch (CPU, CUDA), numpy and python RNG states as tensors / ints."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    return {
        'torch': torch.get_rng_state(),
        'cuda': list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        'numpy': {'keys': torch.from_numpy(np.asarray(keys, dtype=np.int64)), 'pos': int(pos),
                  'has_gauss': int(has_gauss), 'gauss': float(gauss)},
        'python': {'version': int(version), 'internal': torch.tensor(internal, dtype=torch.int64),
                   'gauss': py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state['torch'])
    if state.get('cuda') and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    n = state['numpy']
    np.random.set_state(
        ('MT19937', n['keys'].numpy().astype(np.uint32), n['pos'], n['has_gauss'], n['gauss'])
    )
    p = state['python']
    random.setstate((p['version'], tuple(int(x) for x in p['internal'].tolist()), p['gauss']))


def load_fusion_model(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """
    Return the fusion model of an ``ssvif_train`` checkpoint, in eval mode, and its model spec.

    Only the fusion network is rebuilt: the segmentation branches are
    training-time scaffolding (SSVIF III-C) and are not needed to fuse.
    """
    from training.config import config_from_dict
    from training.models import fusion_model_from_config

    state = load_checkpoint(path)
    if state.get('kind') == 'segmenter':
        raise CheckpointError(f'{path} is a segmenter checkpoint (ssvif_train_segmenter); '
                              'this needs a fusion checkpoint from ssvif_train')
    try:
        cfg = config_from_dict(state['config'])
        fusion = fusion_model_from_config(cfg.model)
        fusion.load_state_dict(state['models']['fusion'])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f'{path}: fusion model cannot be rebuilt: {str(exc).splitlines()[0]}'
        ) from None
    spec = {
        'backbone': cfg.model.backbone,
        'in_channels': cfg.model.in_channels,
        'output': cfg.model.output,
        'backbone_kwargs': dict(cfg.model.backbone_kwargs or {}),
        'epoch': state.get('epoch'),
    }
    return fusion.eval(), spec
