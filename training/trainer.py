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
The training loop shared by every framework: weighting, gradient analysis, resume.

What is trained, with which losses and in which stages is the framework's
(``training.frameworks``; ``framework: ssvif`` by default); this module runs
it. The decisions below were taken for SSVIF and hold for every framework
where they apply.

Decisions on points the paper (III-C, III-E, IV-A) leaves open:

* **Stage switch.** Stage I trains only the fusion model F on L_fusion
  (unweighted, Eq. 2). After each Stage-I epoch j the epoch-mean training
  fusion loss is compared with epoch j-1; if L^j > L^(j-1) (or, with
  ``stage1_max_epochs`` = N, after N Stage-I epochs) the *next* epoch is the
  first Stage-II epoch: the rise epoch has already been trained as Stage I.
  ``stage1_max_epochs`` is a cap for demos/CI (default null = paper rule
  only). ``two_stage: false`` runs Stage II from epoch 1; runs without
  branches (``framework: original`` or ``csc: false``) stay in Stage I.
* **Optimizers.** F (plus any learnable weighting parameters, UCW) has its
  Adam from the start; head H and SegFormer S get their own Adam (same lr,
  betas) created at the switch, so their moments start from zero when they
  start training. Both are checkpointed.
* **Stage II step.** p_A = H(features) bilinearly upsampled to the image,
  p_B = S(fused); L_total = w_f L_fusion + w_c L_csc from the weighting
  strategy (Eq. 2 form: w_f = 1, w_c = omega_csc for fixed/GDWA).
  Gradients of L_csc reach F through both branches (the paper's CSC task
  optimises omega_f, omega_h, omega_s).
* **Per-task gradients** over F's parameters are computed once per step
  when the strategy asks (``wants_grad_norms``) or the gradient analysis is
  due, and reused for both (GDWA norms; App. C alpha_cf, cosine).
* **Early stopping / best checkpoint** use the validation fusion loss
  (unweighted L_fusion on the validation split): it exists in every stage
  and every ablation, and L_csc is self-referential (its pseudo-labels come
  from the branches being trained), so it is no quality measure. With a
  two-stage run both are restricted to Stage II (reset at the switch), so a
  Stage-I model, never trained with L_csc, cannot become "best" and the
  trade-off L_csc introduces cannot stop the run within 10 epochs of the
  switch. Patience counts epochs without a strict improvement. That is
  ``Framework.selection_value``'s default; a framework may select on
  another quantity (MultiTaskVIF: validation L_total, its Eq. 2), logged
  as ``best_val_<Framework.selection_name>``.
* **Determinism.** Every epoch reseeds torch/numpy/python from (seed,
  epoch, rank) and the sampler from (seed, epoch), so a resumed run draws
  the same crops, order and dropout masks as an uninterrupted one.

The loop's services (seeding, loaders, progress, scalars, checkpoints,
resume, best tracking) are :mod:`training.loop.core`'s, shared with CAF's
loss search and the segmenter training; one step's check, weighting,
backward and optimizer steps are :class:`training.loop.step.StepApplication`'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Any, Mapping

import torch
from torch.utils.data import DataLoader, Dataset
from training.checkpoint import check_resumable, rng_state, set_rng_state
from training.config import TrainConfig
from training.data.labelled import PairCollate
from training.distributed import DistContext, init_distributed
from training.frameworks import build_framework, Framework, StepContext
from training.frameworks.ssvif import stage_switch_due
from training.logging import save_picture_grid
from training.loop.core import BestTracker, Loop, restore_optimizers, to_device
from training.loop.step import analysis_keys, StepApplication, StepPosition, TrainingDiverged
from training.weighting import build_weighting, LossWeighting


__all__ = ['TrainingDiverged', 'TrainResult', 'stage_switch_due', 'train', 'Trainer',
           'build_models']


@dataclass
class TrainResult:
    history: list[dict]
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    stage_switch_epoch: int | None   # 1-based number of the first epoch of the last stage entered
    output_dir: Path
    stopped_early: bool = False
    scalars_csv: Path | None = None
    grids: list[Path] = field(default_factory=list)


def build_models(cfg: TrainConfig) -> dict[str, torch.nn.Module | None]:
    """
    Build the framework's modules: ``fusion`` and what trains alongside.

    SSVIF: ``head``, ``seg``.
    """
    return build_framework(cfg).build_modules()


def _weighting_options(cfg: TrainConfig) -> dict:
    opts = dict(cfg.weighting.options or {})
    if cfg.weighting.name in ('dwa', 'segmif'):
        opts.setdefault('relative', True)  # Eq. 2 form, fusion multiplier 1
    return opts


def _epoch_mean_key(key: str) -> bool:
    """Whether a step record's ``key`` is averaged over the epoch (losses, omega, norms, alpha)."""
    if key == 'L_total' or key.endswith('_mean'):
        return False
    return key.startswith(('L_', 'loss_', 'omega_', 'g_', 'alpha_', 'cos_'))


class Trainer:
    """The framework, its modules, optimizers and run state; ``run()`` returns a TrainResult."""

    def __init__(self, cfg: TrainConfig, datasets: tuple[Dataset, Dataset] | None = None,
                 progress: bool = True, dist: DistContext | None = None):
        self.cfg = cfg
        self.dist = dist or init_distributed(cfg.device)
        self.device = self.dist.device
        self.out = Path(cfg.output_dir)
        self.framework: Framework = build_framework(cfg)
        if datasets is None:
            if self.framework.needs_labels:
                from training.data.labelled import build_labelled_datasets

                datasets = build_labelled_datasets(cfg.data)
            else:
                from training.data import build_datasets

                datasets = build_datasets(cfg.data)
        self.train_ds, self.val_ds = datasets
        self._collate = PairCollate(self.framework.needs_labels, f'{cfg.framework} training')
        torch.manual_seed(int(cfg.seed))  # identical initial weights on every rank
        self.modules = {k: (m.to(self.device) if m is not None else None)
                        for k, m in self.framework.build_modules().items()}
        for m in self.modules.values():
            self.dist.broadcast_module(m)
        self.weighting: LossWeighting = build_weighting(
            cfg.weighting.name, tasks=self.framework.weighting_tasks, **_weighting_options(cfg))
        for p in self.weighting.parameters():
            p.data = p.data.to(self.device)
        self.steps = StepApplication(
            self.weighting, self.dist, lambda: self.framework.shared_parameters(self.modules),
            int(cfg.grad_analysis_every) if cfg.grad_analysis else None)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        # run state (checkpointed): the loop's epochs, steps and history, and these
        self.loop = Loop(seed=cfg.seed, epochs=cfg.epochs, out=self.out,
                         max_steps_per_epoch=cfg.max_steps_per_epoch, log_every=cfg.log_every,
                         progress=progress, dist=self.dist)
        self.stage = 1
        self.stage_switch_epoch: int | None = None
        # minimises the framework's selection_value (default: validation L_fusion)
        self.best = BestTracker('min', cfg.early_stopping_patience)
        self._ensure_optimizers()
        first = self.framework.initial_stage()
        if first != 1:
            self.enter_stage(first, first_epoch=1)
        self.grids: list[Path] = []
        n = min(int(cfg.grid_samples), len(self.val_ds)) if self.dist.is_main else 0
        self._grid_samples = [self.val_ds[i] for i in range(n)]

    @property
    def fusion(self) -> torch.nn.Module:
        return self.modules['fusion']

    # -- optimizers and stages ----------------------------------------------------
    def _ensure_optimizers(self) -> None:
        """Create the optimizers the framework has by the current stage (once each)."""
        o = self.cfg.optim
        for name, params in self.framework.optimizer_params(self.modules, self.stage).items():
            if name in self.optimizers:
                continue
            params = list(params)
            if name == 'fusion':
                params += list(self.weighting.parameters())
            self.optimizers[name] = torch.optim.Adam(
                params, lr=self._lr(name), betas=tuple(o.betas), weight_decay=o.weight_decay)

    def _lr(self, name: str) -> float:
        """Return the learning rate of optimizer ``name``: the framework's, else ``optim.lr``."""
        lr = self.framework.optimizer_lr(name)
        return self.cfg.optim.lr if lr is None else lr

    def enter_stage(self, stage: int, first_epoch: int) -> None:
        """Enter ``stage`` from the 1-based ``first_epoch``: its optimizers, a new best race."""
        self.stage = int(stage)
        self.stage_switch_epoch = first_epoch
        self._ensure_optimizers()
        self.best.reset()

    # -- steps and epochs ---------------------------------------------------------
    def loader(self, ds: Dataset, train: bool, epoch: int | None = None) -> DataLoader:
        """Return the training (shuffled) or validation loader of ``epoch`` (default: now)."""
        d = self.cfg.data
        if train:
            bs = int(d.batch_size)
        else:
            bs = 1 if d.val_mode == 'full' else int(d.val_batch_size or d.batch_size)
        return self.loop.loader(ds, bs, shuffle=train, epoch=epoch, collate=self._collate,
                                workers=int(d.workers), pin_memory=self.device.type == 'cuda')

    def _train_mode(self, on: bool) -> None:
        for m in self.modules.values():
            if m is not None:
                m.train(on)

    def _context(self) -> StepContext:
        at = StepPosition(self.loop.global_step, self.loop.epoch, self.stage)
        apply, check_finite = self.steps.bind(self.optimizers, at)
        return StepContext(modules=self.modules, optimizers=self.optimizers, device=self.device,
                           stage=self.stage, global_step=at.global_step, epoch=at.epoch,
                           apply=apply, check_finite=check_finite)

    def step(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """Train one step on ``batch`` (the framework's step); return its logged record."""
        for m in self.modules.values():
            self.dist.broadcast_module(m, buffers_only=True)
        return self.framework.train_step(to_device(batch, self.device), self._context())

    def _train_epoch(self) -> dict[str, float]:
        loop = self.loop
        loop.seed_epoch()
        self._train_mode(True)
        sums: dict[str, float] = {}
        count = 0
        t_epoch = time.perf_counter()
        desc = f'epoch {loop.epoch + 1}/{loop.epochs} stage {self.stage}'
        for batch in loop.batches(self.loader(self.train_ds, True), desc):
            t0 = time.perf_counter()
            rec = self.step(batch)
            b = len(batch['name'])
            rec['samples_per_s'] = b * self.dist.world_size / max(time.perf_counter() - t0, 1e-9)
            opt = self.optimizers.get('fusion') or next(iter(self.optimizers.values()))
            rec['lr'] = opt.param_groups[0]['lr']
            rec['stage'] = self.stage
            for k in [k for k in rec if _epoch_mean_key(k)]:
                sums[k] = sums.get(k, 0.0) + rec[k] * b
                sums[f'_n_{k}'] = sums.get(f'_n_{k}', 0.0) + b
            count += b
            loop.step_done(rec, {k: v for k, v in rec.items()
                                 if k.startswith(('L_', 'omega_')) and k != 'L_total'})
        for m in self.modules.values():  # validate/save with rank 0's BN statistics
            self.dist.broadcast_module(m, buffers_only=True)
        elapsed = time.perf_counter() - t_epoch
        totals = self.dist.sum_scalars({**sums, '_count': count})
        means = {
            f'train_{k}': totals[k] / totals[f'_n_{k}']
            for k in sums
            if not k.startswith('_n_') and totals.get(f'_n_{k}', 0) > 0
        }
        means['train_samples_per_s'] = totals['_count'] / max(elapsed, 1e-9)
        return means

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        self._train_mode(False)
        sums: dict[str, float] = {}
        n = 0
        ctx = self._context()
        for batch in self.loader(self.val_ds, False):
            batch = to_device(batch, self.device)
            b = batch['visible'].shape[0]
            for k, v in self.framework.validation_losses(batch, ctx).items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            n += b
        self._train_mode(True)
        tot = self.dist.sum_scalars({**sums, 'n': n})
        if tot['n'] == 0:
            return {}
        return {f'val_L_{k}': tot[k] / tot['n'] for k in sums}

    @torch.no_grad()
    def _grid(self) -> None:
        if not self._grid_samples:
            return
        self.fusion.eval()
        rows = []
        for s in self._grid_samples:
            fused = self.fusion(
                s['visible'][None].to(self.device), s['thermal'][None].to(self.device)
            ).fused[0]
            rows.append({'visible': s['visible'], 'thermal': s['thermal'], 'fused': fused})
        self.fusion.train()
        epoch = self.loop.epoch + 1
        self.grids.append(save_picture_grid(
            self.out / 'grids' / f'epoch_{epoch:03d}.png', rows,
            [s['name'] for s in self._grid_samples], title=f'epoch {epoch} (stage {self.stage})'))

    # -- checkpoints --------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        sd = lambda m: None if m is None else m.state_dict()  # noqa: E731
        loop = self.loop
        return {
            'epoch': loop.epoch,
            'global_step': loop.global_step,
            'stage': self.stage,
            'stage_switch_epoch': self.stage_switch_epoch,
            'models': {k: sd(m) for k, m in self.modules.items()},
            'optimizers': {k: o.state_dict() for k, o in self.optimizers.items()},
            'weighting': self.weighting.state_dict(),
            'framework': self.framework.state_dict(),
            'history': loop.history,
            'best': self.best.state_dict(),
            'alpha_mean': self.steps.alpha_mean.state_dict(),
            'rng': rng_state(),
            'config': self.cfg.to_dict(),
        }

    def load_state(self, st: Mapping[str, Any]) -> None:
        check_resumable(st, self.cfg.to_dict(), self.modules, self.cfg.framework)
        for name, m in self.modules.items():
            if m is not None:
                m.load_state_dict(st['models'][name])
        self.stage = int(st['stage'])
        self._ensure_optimizers()
        # a framework with a schedule sets its rates again at every step anyway
        restore_optimizers(self.optimizers, st['optimizers'], self._lr, self.dist.is_main)
        self.weighting.load_state_dict(st['weighting'])
        self.framework.load_state_dict(st.get('framework') or {})
        self.loop.load_state_dict(st)
        self.stage_switch_epoch = st['stage_switch_epoch']
        self.best.load_state_dict(st['best'])
        self.steps.alpha_mean.load_state_dict(st['alpha_mean'])
        set_rng_state(st['rng'])

    # -- main loop ----------------------------------------------------------------
    def run(self, resume: str | Path | None = None) -> TrainResult:
        cfg, loop = self.cfg, self.loop
        ckpt = loop.resume(resume, self.load_state)
        last, best = ckpt, None
        if (self.out / 'best.pt').is_file() and ckpt is not None:
            best = self.out / 'best.pt'
        stopped = False
        eligible_stage = self.framework.best_from_stage()
        while loop.running:
            means = self._train_epoch()
            means.update(self._validate())
            entry = {'epoch': loop.epoch + 1, 'stage': self.stage, **means}
            tasks = self.framework.tasks(self.stage)
            run_alpha = self.steps.alpha_mean.mean
            if len(tasks) == 2 and cfg.grad_analysis and run_alpha is not None:
                entry[f'{analysis_keys(tasks[1])[0]}_run_mean'] = run_alpha
            self.weighting.epoch_end(self.framework.weighting_losses(means, self.stage))
            improved = False
            val = self.framework.selection_value(means)
            if self.stage >= eligible_stage and val is not None:
                improved = self.best.update(val, loop.epoch + 1)
            entry[f'best_val_{self.framework.selection_name}'] = self.best.value
            if self.dist.is_main:
                self._grid()
            loop.end_epoch(entry, {k: v for k, v in entry.items()
                                   if k != 'epoch' and isinstance(v, (int, float))})
            # decide the switch before saving so a resume continues in the right stage
            next_stage = self.framework.next_stage(loop.history, self.stage)
            if next_stage != self.stage:
                self.enter_stage(next_stage, first_epoch=loop.epoch + 1)
            if improved:
                best = loop.save('best.pt', self.state())
            every = int(cfg.checkpoint_every)
            if loop.epoch % every == 0 or not loop.running:
                last = loop.save('last.pt', self.state())
            if self.best.exhausted:
                stopped = True
                if last is None or loop.epoch % every != 0:
                    last = loop.save('last.pt', self.state())
                break
        self.dist.barrier()
        return TrainResult(history=loop.history, best_checkpoint=best, last_checkpoint=last,
                           stage_switch_epoch=self.stage_switch_epoch, output_dir=self.out,
                           stopped_early=stopped, grids=list(self.grids),
                           scalars_csv=loop.scalars.path if self.dist.is_main else None)


def train(cfg: TrainConfig, progress: bool = True, resume: str | Path | None = None,
          datasets: tuple[Dataset, Dataset] | None = None) -> TrainResult:
    """
    Train the configured framework; ``resume``: a checkpoint or ``"auto"`` (output_dir/last.pt).

    ``datasets`` = (train, val) overrides ``cfg.data`` (tests, custom data):
    items must be dicts with ``visible`` (3,H,W), ``thermal`` (1,H,W) in
    [0, 1] and ``name``, plus ``label`` (H,W) int64 for frameworks that
    need labels; label-free frameworks (SSVIF) refuse a ``label`` key.
    """
    dist = init_distributed(cfg.device)
    try:
        return Trainer(cfg, datasets=datasets, progress=progress, dist=dist).run(resume)
    finally:
        dist.close()
