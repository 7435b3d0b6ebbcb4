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
  switch. Patience counts epochs without a strict improvement.
* **Determinism.** Every epoch reseeds torch/numpy/python from (seed,
  epoch, rank) and the sampler from (seed, epoch), so a resumed run draws
  the same crops, order and dropout masks as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import random
import sys
import time
from typing import Any, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler
from training.checkpoint import (
    load_checkpoint,
    resolve_resume,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from training.config import TrainConfig
from training.distributed import DistContext, init_distributed
from training.frameworks import build_framework, Framework, StepContext
from training.frameworks.ssvif import stage_switch_due
from training.gradients import RunningMean
from training.logging import save_picture_grid, ScalarLogger
from training.trainer_step import analysis_keys, StepApplication, TrainingDiverged
from training.weighting import build_weighting, LossWeighting


__all__ = [
    'TrainingDiverged',
    'TrainResult',
    'stage_switch_due',
    'train',
    'Trainer',
    'build_models',
]

# step-record keys averaged over an epoch (besides the L_<task> losses and loss_<term> terms)
_EPOCH_MEAN_PREFIXES = ('omega_', 'g_', 'alpha_', 'cos_')


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


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + int(rank) * 104_729) % (2**31 - 1)


def _epoch_mean_key(key: str) -> bool:
    if key == 'L_total' or key.endswith('_mean'):
        return False
    return key.startswith(('L_', 'loss_')) or key.startswith(_EPOCH_MEAN_PREFIXES)


class _Collate:
    """Stacks a batch; labels pass only for frameworks that train on them (SSVIF refuses them)."""

    def __init__(self, labels: bool, framework: str):
        self.labels, self.framework = labels, framework

    def __call__(self, batch: list[dict]) -> dict:
        has = [('label' in b) for b in batch]
        if any(has) and not self.labels:
            raise RuntimeError(
                f"{self.framework} training is label-free: the dataset returned a 'label' key"
            )
        if self.labels and not all(has):
            raise RuntimeError(
                f"{self.framework} training needs labels: a sample has no 'label' key"
            )
        out = {'visible': torch.stack([b['visible'] for b in batch]),
               'thermal': torch.stack([b['thermal'] for b in batch]),
               'name': [b['name'] for b in batch]}
        if self.labels:
            out['label'] = torch.stack([b['label'] for b in batch])
        return out


class Trainer(StepApplication):
    """The framework, its modules, optimizers and run state; ``run()`` returns a TrainResult."""

    def __init__(self, cfg: TrainConfig, datasets: tuple[Dataset, Dataset] | None = None,
                 progress: bool = True, dist: DistContext | None = None):
        self.cfg = cfg
        self.progress = progress
        self.dist = dist or init_distributed(cfg.device)
        self.device = self.dist.device
        self.out = Path(cfg.output_dir)
        self.framework: Framework = build_framework(cfg)
        if datasets is None:
            if self.framework.needs_labels:
                from training.frameworks.data import build_labelled_datasets

                datasets = build_labelled_datasets(cfg.data)
            else:
                from training.data import build_datasets

                datasets = build_datasets(cfg.data)
        self.train_ds, self.val_ds = datasets
        self._collate = _Collate(self.framework.needs_labels, cfg.framework)
        torch.manual_seed(int(cfg.seed))  # identical initial weights on every rank
        self.modules = {k: (m.to(self.device) if m is not None else None)
                        for k, m in self.framework.build_modules().items()}
        for m in self.modules.values():
            self.dist.broadcast_module(m)
        self.weighting: LossWeighting = build_weighting(
            cfg.weighting.name, tasks=self.framework.weighting_tasks, **_weighting_options(cfg))
        for p in self.weighting.parameters():
            p.data = p.data.to(self.device)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        # run state (checkpointed)
        self.epoch = 0               # completed epochs
        self.global_step = 0
        self.stage = 1
        self.stage_switch_epoch: int | None = None
        self.history: list[dict] = []
        self.best_val: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.alpha_mean = RunningMean()  # over the whole run (paper IV-F reports the run average)
        self._ensure_optimizers()
        first = self.framework.initial_stage()
        if first != 1:
            self._enter_stage(first, first_epoch=1)
        main = self.dist.is_main
        self.scalars = ScalarLogger(self.out / 'scalars.csv', enabled=main)
        self.grids: list[Path] = []
        self._grid_samples = self._pick_grid_samples()

    # -- compatibility views ----------------------------------------------------
    @property
    def fusion(self) -> torch.nn.Module:
        return self.modules['fusion']

    @property
    def opt_fusion(self) -> torch.optim.Optimizer | None:
        return self.optimizers.get('fusion')

    # -- setup helpers ----------------------------------------------------
    def _adam(self, params, lr: float | None = None) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return torch.optim.Adam(params, lr=o.lr if lr is None else lr, betas=tuple(o.betas),
                                weight_decay=o.weight_decay)

    def _ensure_optimizers(self) -> None:
        """Create the optimizers the framework has by the current stage (once each)."""
        for name, params in self.framework.optimizer_params(self.modules, self.stage).items():
            if name in self.optimizers:
                continue
            params = list(params)
            if name == 'fusion':
                params += list(self.weighting.parameters())
            self.optimizers[name] = self._adam(params, self.framework.optimizer_lr(name))

    def _enter_stage(self, stage: int, first_epoch: int) -> None:
        self.stage = int(stage)
        self.stage_switch_epoch = first_epoch
        self._ensure_optimizers()
        self.best_val, self.best_epoch, self.bad_epochs = None, None, 0

    def _enter_stage2(self, first_epoch: int) -> None:
        """
        Switch to SSVIF's Stage II.

        Kept for callers that force Stage II, e.g. the benchmark.
        """
        self._enter_stage(2, first_epoch)

    def _pick_grid_samples(self) -> list[dict]:
        n = min(int(self.cfg.grid_samples), len(self.val_ds)) if self.dist.is_main else 0
        return [self.val_ds[i] for i in range(n)]

    def _loader(self, ds: Dataset, train: bool, epoch: int) -> DataLoader:
        d = self.cfg.data
        g = torch.Generator().manual_seed(_epoch_seed(self.cfg.seed, epoch, 0))
        if self.dist.enabled:
            sampler = DistributedSampler(
                ds,
                num_replicas=self.dist.world_size,
                rank=self.dist.rank,
                shuffle=train,
                seed=int(self.cfg.seed),
                drop_last=False,
            )
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(ds, generator=g) if train else SequentialSampler(ds)
        if train:
            bs = int(d.batch_size)
        else:
            bs = 1 if d.val_mode == 'full' else int(d.val_batch_size or d.batch_size)
        return DataLoader(ds, batch_size=bs, sampler=sampler, num_workers=int(d.workers),
                          collate_fn=self._collate, generator=g, drop_last=False,
                          persistent_workers=False, pin_memory=self.device.type == 'cuda')

    def _train_mode(self, on: bool) -> None:
        for m in self.modules.values():
            if m is not None:
                m.train(on)

    def _context(self) -> StepContext:
        return StepContext(modules=self.modules, optimizers=self.optimizers, device=self.device,
                           stage=self.stage, global_step=self.global_step, epoch=self.epoch,
                           apply=self._apply, check_finite=self._check_finite)

    def _to_device(self, batch: Mapping[str, Any]) -> dict:
        return {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v)
                for k, v in batch.items()}

    # -- one step ---------------------------------------------------------
    def _step(self, batch: dict) -> dict[str, float]:
        for m in self.modules.values():
            self.dist.broadcast_module(m, buffers_only=True)
        return self.framework.train_step(self._to_device(batch), self._context())

    # -- epochs -----------------------------------------------------------
    def _seed_epoch(self, epoch: int) -> None:
        s = _epoch_seed(self.cfg.seed, epoch, self.dist.rank)
        torch.manual_seed(s)
        np.random.seed(s)
        random.seed(s)

    def _train_epoch(self) -> dict[str, float]:
        cfg = self.cfg
        self._seed_epoch(self.epoch)
        self._train_mode(True)
        loader = self._loader(self.train_ds, True, self.epoch)
        n_steps = (
            len(loader)
            if cfg.max_steps_per_epoch is None
            else min(len(loader), int(cfg.max_steps_per_epoch))
        )
        sums: dict[str, float] = {}
        count = 0
        bar = None
        if self.progress and self.dist.is_main:
            from tqdm import tqdm

            bar = tqdm(
                total=n_steps,
                desc=f'epoch {self.epoch + 1}/{cfg.epochs} stage {self.stage}',
                leave=False,
                dynamic_ncols=True,
            )
        t_epoch = time.perf_counter()
        for i, batch in enumerate(loader):
            if i >= n_steps:
                break
            t0 = time.perf_counter()
            rec = self._step(batch)
            n = len(batch['name']) * self.dist.world_size
            rec['samples_per_s'] = n / max(time.perf_counter() - t0, 1e-9)
            opt = self.optimizers.get('fusion') or next(iter(self.optimizers.values()))
            rec['lr'] = opt.param_groups[0]['lr']
            rec['stage'] = self.stage
            for k in [k for k in rec if _epoch_mean_key(k)]:
                sums[k] = sums.get(k, 0.0) + rec[k] * len(batch['name'])
                sums[f'_n_{k}'] = sums.get(f'_n_{k}', 0.0) + len(batch['name'])
            count += len(batch['name'])
            if self.global_step % int(cfg.log_every) == 0:
                self.scalars.log('step', self.epoch + 1, self.global_step, rec)
            self.global_step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f'{v:.3g}' for k, v in rec.items()
                                 if k.startswith(('L_', 'omega_')) and k != 'L_total'})
        if bar is not None:
            bar.close()
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
        for batch in self._loader(self.val_ds, False, self.epoch):
            batch = self._to_device(batch)
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
        self.grids.append(
            save_picture_grid(
                self.out / 'grids' / f'epoch_{self.epoch + 1:03d}.png',
                rows,
                [s['name'] for s in self._grid_samples],
                title=f'epoch {self.epoch + 1} (stage {self.stage})',
            )
        )

    # -- checkpoints --------------------------------------------------------
    def state(self) -> dict[str, Any]:
        sd = lambda m: None if m is None else m.state_dict()  # noqa: E731
        optimizers = {k: o.state_dict() for k, o in self.optimizers.items()}
        return {
            'epoch': self.epoch,
            'global_step': self.global_step,
            'stage': self.stage,
            'stage_switch_epoch': self.stage_switch_epoch,
            'models': {k: sd(m) for k, m in self.modules.items()},
            'optimizers': optimizers,
            'weighting': self.weighting.state_dict(),
            'framework': self.framework.state_dict(),
            'history': self.history,
            'best': {
                'val': self.best_val,
                'epoch': self.best_epoch,
                'bad_epochs': self.bad_epochs,
            },
            'alpha_mean': self.alpha_mean.state_dict(),
            'rng': rng_state(),
            'config': self.cfg.to_dict(),
        }

    def load_state(self, st: Mapping[str, Any]) -> None:
        was = (st.get('config') or {}).get('model') or {}
        now = self.cfg.to_dict().get('model') or {}
        differ = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
        if was and differ:  # before load_state_dict, whose message lists every tensor
            k = differ[0]
            raise ValueError(f'the checkpoint was trained with model.{k}={was.get(k)!r}, the '
                             f'config says {now.get(k)!r}: resume with the same model settings '
                             'or train into a new output folder')
        saved = st['models']
        for name in sorted(set(saved) | set(self.modules)):
            if (saved.get(name) is None) != (self.modules.get(name) is None):
                raise ValueError(f'checkpoint and config disagree on the module {name!r} '
                                 f'(framework {self.cfg.framework!r}, csc, model settings)')
        for name, m in self.modules.items():
            if m is not None:
                m.load_state_dict(saved[name])
        self.stage = int(st['stage'])
        self._ensure_optimizers()
        for name, osd in st['optimizers'].items():
            if osd is None:
                continue
            if name not in self.optimizers:
                raise ValueError(
                    f'checkpoint has an optimizer {name!r} the framework does not use'
                )
            self.optimizers[name].load_state_dict(osd)
            # The restored state carries the old run's rate; the config is what was asked
            # for now (a framework with a schedule sets it again at every step anyway).
            lr = self.framework.optimizer_lr(name)
            lr = float(self.cfg.optim.lr if lr is None else lr)
            for g in self.optimizers[name].param_groups:
                old = float(g['lr'])
                if old != lr and self.dist.is_main:
                    print(f'resume: optimizer {name!r} learning rate {old:g} -> {lr:g} '
                          '(from the config)', file=sys.stderr)
                g['lr'] = lr
        self.weighting.load_state_dict(st['weighting'])
        self.framework.load_state_dict(st.get('framework') or {})
        self.epoch, self.global_step = int(st['epoch']), int(st['global_step'])
        self.stage_switch_epoch = st['stage_switch_epoch']
        self.history = [dict(h) for h in st['history']]
        b = st['best']
        self.best_val, self.best_epoch, self.bad_epochs = (
            b['val'],
            b['epoch'],
            int(b['bad_epochs']),
        )
        self.alpha_mean.load_state_dict(st['alpha_mean'])
        set_rng_state(st['rng'])

    def _save(self, name: str) -> Path | None:
        if not self.dist.is_main:
            return None
        return save_checkpoint(self.out / name, self.state())

    # -- main loop ------------------------------------------------------------
    def run(self, resume: str | Path | None = None) -> TrainResult:
        cfg = self.cfg
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        ckpt = resolve_resume(resume, self.out)
        if ckpt is not None:
            self.load_state(load_checkpoint(ckpt))
            self.scalars.truncate_after(self.epoch)
        last, best = ckpt, None
        if (self.out / 'best.pt').is_file() and ckpt is not None:
            best = self.out / 'best.pt'
        stopped = False
        eligible_stage = self.framework.best_from_stage()
        while self.epoch < int(cfg.epochs):
            means = self._train_epoch()
            means.update(self._validate())
            entry = {'epoch': self.epoch + 1, 'stage': self.stage, **means}
            tasks = self.framework.tasks(self.stage)
            if len(tasks) == 2 and cfg.grad_analysis and self.alpha_mean.mean is not None:
                entry[f'{analysis_keys(tasks[1])[0]}_run_mean'] = self.alpha_mean.mean
            epoch_losses = {t: means[f'train_L_{t}'] for t in tasks if f'train_L_{t}' in means}
            self.weighting.epoch_end(epoch_losses)
            improved = False
            val = means.get('val_L_fusion', means.get('train_L_fusion'))
            if self.stage >= eligible_stage and val is not None:
                if self.best_val is None or val < self.best_val:
                    self.best_val, self.best_epoch, self.bad_epochs, improved = (
                        val,
                        self.epoch + 1,
                        0,
                        True,
                    )
                else:
                    self.bad_epochs += 1
            entry['best_val_L_fusion'] = self.best_val
            self.history.append(entry)
            if self.dist.is_main:
                self.scalars.log(
                    'epoch',
                    self.epoch + 1,
                    self.global_step,
                    {
                        k: v
                        for k, v in entry.items()
                        if k != 'epoch' and isinstance(v, (int, float))
                    },
                )
                self._grid()
            # decide the switch before saving so a resume continues in the right stage
            next_stage = self.framework.next_stage(self.history, self.stage)
            self.epoch += 1
            if next_stage != self.stage:
                self._enter_stage(next_stage, first_epoch=self.epoch + 1)
            if improved:
                best = self._save('best.pt')
            if self.epoch % int(cfg.checkpoint_every) == 0 or self.epoch == int(cfg.epochs):
                last = self._save('last.pt')
            p = cfg.early_stopping_patience
            if p is not None and self.bad_epochs >= int(p):
                stopped = True
                if last is None or self.epoch % int(cfg.checkpoint_every) != 0:
                    last = self._save('last.pt')
                break
        self.dist.barrier()
        return TrainResult(
            history=self.history,
            best_checkpoint=best,
            last_checkpoint=last,
            stage_switch_epoch=self.stage_switch_epoch,
            output_dir=self.out,
            stopped_early=stopped,
            scalars_csv=self.scalars.path if self.dist.is_main else None,
            grids=list(self.grids),
        )


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
