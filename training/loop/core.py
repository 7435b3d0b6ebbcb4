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
The loop core: what every training loop here does the same way.

Why one core: the SSVIF trainer (``training.trainer``), CAF's loss search
(``training.caf.search``) and the segmenter training
(``training.segmenter``) each had their own seeding, loaders, progress
bars, logging, checkpoints and best-model tracking. They live here once; a
loop keeps only what is its own (its networks, its step, what it validates
and what its epoch entry says). mmengine's Runner idea without hooks: a
loop calls the core, the core calls nothing back but ``load_state``.

* Seeding: :func:`epoch_seed`, a pure function of (seed, epoch, rank), and
  :func:`seed_everything` (torch, numpy, python), so a resumed run draws
  the same crops, order and dropout masks as an uninterrupted one.
* Loaders: :func:`make_loader` builds every DataLoader; :meth:`Loop.loader`
  gives it the epoch's generator (and a ``DistributedSampler`` under
  torchrun).
* :class:`Loop`: the run state (completed epochs, global step, epoch
  history), the epoch's batches behind a progress bar, step and epoch
  scalars in ``scalars.csv``, checkpoints written by the main process only,
  and resume.
* :class:`BestTracker`: the best value so far (lowest or highest), its
  epoch and the epochs since, for best checkpoints and early stopping.
"""
from __future__ import annotations

from pathlib import Path
import random
import sys
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler
from training.checkpoint import load_checkpoint, resolve_resume, save_checkpoint
from training.distributed import DistContext
from training.logging import ScalarLogger


__all__ = ['BestTracker', 'Loop', 'epoch_seed', 'make_loader', 'restore_optimizers',
           'seed_everything', 'to_device']


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """Return the seed of ``epoch`` (0-based) on ``rank``: a pure function, so resumes agree."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + int(rank) * 104_729) % (2**31 - 1)


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's ``random`` with ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def make_loader(ds: Dataset, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, sampler: Sampler | None = None,
                collate: Callable | None = None, workers: int = 0, drop_last: bool = False,
                pin_memory: bool = False) -> DataLoader:
    """
    Build a DataLoader: ``shuffle`` draws the order from ``generator``, else the dataset's order.

    ``generator`` also seeds the workers; without one, each pass over the
    loader draws that seed from torch's global generator (as DataLoader does).
    """
    if sampler is None:
        sampler = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=int(workers),
                      collate_fn=collate, generator=generator, drop_last=drop_last,
                      pin_memory=pin_memory)


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict:
    """Move the tensors of a batch to ``device`` (names and other values pass as they are)."""
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v)
            for k, v in batch.items()}


def restore_optimizers(optimizers: Mapping[str, torch.optim.Optimizer],
                       states: Mapping[str, dict | None], lr_of: Callable[[str], float],
                       announce: bool = True) -> None:
    """
    Load saved optimizer states, each at the learning rate ``lr_of(name)`` asks for now.

    The restored state carries the old run's rate; the config is what was
    asked for now (a change is said on stderr when ``announce``). A saved
    optimizer the loop does not have is an error.
    """
    for name, osd in states.items():
        if osd is None:
            continue
        if name not in optimizers:
            raise ValueError(f'checkpoint has an optimizer {name!r} the framework does not use')
        optimizers[name].load_state_dict(osd)
        lr = float(lr_of(name))
        for g in optimizers[name].param_groups:
            old = float(g['lr'])
            if old != lr and announce:
                print(f'resume: optimizer {name!r} learning rate {old:g} -> {lr:g} '
                      '(from the config)', file=sys.stderr)
            g['lr'] = lr


class BestTracker:
    """
    The best value so far, its epoch, and the epochs since without a strict improvement.

    ``mode``: ``"min"`` or ``"max"``; ``start``: the value to beat (None:
    the first value is the best); ``patience``: epochs without improvement
    that exhaust it (None: never).
    """

    def __init__(self, mode: str = 'min', patience: int | None = None,
                 start: float | None = None):
        if mode not in ('min', 'max'):
            raise ValueError(f"BestTracker mode must be 'min' or 'max', got {mode!r}")
        self.mode, self.patience, self.start = mode, patience, start
        self.reset()

    def reset(self) -> None:
        """Forget the best (a new stage starts a new race)."""
        self.value, self.epoch, self.bad_epochs = self.start, None, 0

    def update(self, value: float, epoch: int) -> bool:
        """Count ``value`` of ``epoch`` (1-based); True when it is a new best."""
        if self.value is None or (value < self.value if self.mode == 'min'
                                  else value > self.value):
            self.value, self.epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def exhausted(self) -> bool:
        """Whether ``patience`` epochs have passed without an improvement (early stop)."""
        return self.patience is not None and self.bad_epochs >= int(self.patience)

    def state_dict(self) -> dict[str, Any]:
        return {'val': self.value, 'epoch': self.epoch, 'bad_epochs': self.bad_epochs}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.value, self.epoch = state['val'], state['epoch']
        self.bad_epochs = int(state['bad_epochs'])


class Loop:
    """
    One loop over epochs: its state and the services every loop uses (see the module docstring).

    ``epoch`` counts completed epochs, ``global_step`` the steps so far,
    ``history`` holds one entry per epoch. ``out``: the folder of
    ``scalars.csv`` and checkpoints (None: neither). ``dist``: the
    data-parallel context (None: one process); only its main process writes.
    """

    def __init__(self, *, seed: int, epochs: int, out: str | Path | None = None,
                 max_steps_per_epoch: int | None = None, log_every: int = 1,
                 progress: bool = False, dist: DistContext | None = None):
        self.seed, self.epochs = int(seed), int(epochs)
        self.out = Path(out) if out is not None else None
        self.max_steps_per_epoch = max_steps_per_epoch
        self.log_every = int(log_every)
        self.dist = dist
        self.main = dist is None or dist.is_main
        self.progress = progress and self.main
        self.epoch = 0
        self.global_step = 0
        self.history: list[dict] = []
        self.scalars = (ScalarLogger(self.out / 'scalars.csv', enabled=self.main)
                        if self.out is not None else None)
        self._bar = None

    @property
    def running(self) -> bool:
        """Whether epochs are left."""
        return self.epoch < self.epochs

    # -- seeding and loaders ----------------------------------------------------------
    def seed_epoch(self) -> None:
        """Reseed torch, numpy and python from (seed, epoch, rank) at the start of an epoch."""
        seed_everything(epoch_seed(self.seed, self.epoch, 0 if self.dist is None
                                   else self.dist.rank))

    def loader(self, ds: Dataset, batch_size: int, *, shuffle: bool = True,
               epoch: int | None = None, salt: int = 0, **options: Any) -> DataLoader:
        """
        Return the loader of ``epoch`` (default: the current one), its order a function of it.

        Every rank draws the same generator; under torchrun a
        ``DistributedSampler`` gives each rank its shard. ``salt`` separates
        loaders of one epoch; ``options`` go to :func:`make_loader`.
        """
        epoch = self.epoch if epoch is None else epoch
        g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, 0) + salt)
        sampler = None
        if self.dist is not None and self.dist.enabled:
            sampler = DistributedSampler(ds, num_replicas=self.dist.world_size,
                                         rank=self.dist.rank, shuffle=shuffle,
                                         seed=self.seed, drop_last=False)
            sampler.set_epoch(epoch)
        return make_loader(ds, batch_size, shuffle=shuffle, generator=g, sampler=sampler,
                           **options)

    def steps_in(self, loader: DataLoader) -> int:
        """Return the steps of an epoch over ``loader`` (capped by ``max_steps_per_epoch``)."""
        if self.max_steps_per_epoch is None:
            return len(loader)
        return min(len(loader), int(self.max_steps_per_epoch))

    # -- one epoch ----------------------------------------------------------------------
    def batches(self, loader: DataLoader, desc: str, steps: int | None = None,
                read_past: bool = True) -> Iterator:
        """
        Yield the epoch's batches behind a progress bar: ``steps``, default :meth:`steps_in`.

        ``read_past``: iterate the loader and stop at the first batch past
        ``steps``, which is read and dropped (the SSVIF trainer and the loss
        search always did: a dataset's random crops advance the RNG state
        their checkpoints record); False: read exactly ``steps`` batches.
        """
        steps = self.steps_in(loader) if steps is None else steps
        self._bar = self._open_bar(steps, desc)
        try:
            if read_past:
                for i, batch in enumerate(loader):
                    if i >= steps:
                        break
                    yield batch
                    self._advance_bar()
            else:
                it = iter(loader)
                for _ in range(steps):
                    yield next(it)
                    self._advance_bar()
        finally:
            if self._bar is not None:
                self._bar.close()
            self._bar = None

    def _open_bar(self, total: int, desc: str):
        if not self.progress:
            return None
        try:
            from tqdm import tqdm
        except ImportError:  # bars are a nicety
            return None
        return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)

    def _advance_bar(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def step_done(self, record: Mapping[str, float], show: Mapping[str, float] = ()) -> None:
        """Log a step's record (every ``log_every`` steps), count it, show ``show`` on the bar."""
        if self.scalars is not None and self.global_step % self.log_every == 0:
            self.scalars.log('step', self.epoch + 1, self.global_step, record)
        self.global_step += 1
        if self._bar is not None and show:
            self._bar.set_postfix({k: f'{v:.3g}' for k, v in show.items()})

    def end_epoch(self, entry: dict, scalars: Mapping[str, float] | None = None) -> None:
        """Append ``entry`` to the history, log ``scalars`` for the epoch, count the epoch."""
        self.history.append(entry)
        if self.scalars is not None and scalars is not None:
            self.scalars.log('epoch', self.epoch + 1, self.global_step, scalars)
        self.epoch += 1

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, name: str, state: dict[str, Any]) -> Path | None:
        """Write ``out/name`` atomically from the main process; None elsewhere."""
        if not self.main:
            return None
        return save_checkpoint(self.out / name, state)

    def resume(self, resume: str | Path | None, load_state: Callable[[dict], None],
               fresh_log: bool = False) -> Path | None:
        """
        Continue from ``resume`` (a checkpoint, or ``"auto"``: ``out/last.pt`` if present).

        ``load_state`` restores the loop's owner from the checkpoint (and
        this loop's ``epoch``, ``global_step``, ``history``). The log keeps
        the rows of the completed epochs; ``fresh_log``: also when nothing
        is resumed (a new run starts a new log). Returns the checkpoint used.
        """
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
        ckpt = resolve_resume(resume, self.out)
        if ckpt is not None:
            load_state(load_checkpoint(ckpt))
        if self.scalars is not None and (ckpt is not None or fresh_log):
            self.scalars.truncate_after(self.epoch)
        return ckpt

    def state_dict(self) -> dict[str, Any]:
        return {'epoch': self.epoch, 'global_step': self.global_step, 'history': self.history}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch, self.global_step = int(state['epoch']), int(state['global_step'])
        self.history = [dict(h) for h in state['history']]
