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
CAF's automatic loss search (seed paper 002, Sec. 3.2, Algorithm 1).

Per step, on a training batch B and a search-validation batch V (disjoint
images, ``data.val_fraction`` of the labelled set, as DARTS splits its
training data):

1. task step (line 3): the perception network T takes an Adam step on
   cross-entropy of T(F(B)) against B's labels (F frozen for it);
2. fusion step (line 5): F takes an SGD step (lr eta, momentum) on
   L^f(B; beta) = sum_i beta_i L_i (``training.caf.space``);
3. beta step (line 7): the one-step truncated hypergradient of
   L^t(V) = CE(T(F(V; w'))) with respect to beta's logits, w' the virtual
   step below, finite-difference Hessian-vector product
   (``training.hypergrad.one_step_hypergradient``), then Adam (lr 5e-2,
   decayed by 0.998 per step).

**Virtual step** (``search.virtual_step``). Eq. 2 prints
w' = w - eta grad_w L^f(B; beta); the authors' search code (the DARTS
architect of RollingPlain/CAF_IVIF) takes the step F's SGD would take next:
w' = w - eta (mu m + grad_w L^f(B; beta) + lambda w), m the optimiser's
momentum buffer after line 5, mu = ``search.fusion_momentum``, lambda =
``search.fusion_weight_decay``. ``optimizer`` (default) does that; ``plain``
is the printed formula (the optimiser keeps its momentum and decay either
way). The authors' repository does not publish their weight decay value;
3e-4 is DARTS' (and the same group's BDLFusion search arguments'), whose
architect theirs is.

**Task network start** (``task.init``, ``search.warmup_steps``). The paper
plugs in "the provided" YOLOv5 / SegFormer models with their original
losses, i.e. released (trained) perception networks, so beta's first
signal comes from a segmenter that already segments. No such weights ship
here (a CPU-sized T from scratch is the default), so a search from scratch
starts beta from an untrained T's cross-entropy. Two options close that
gap: ``task.init``, a state dict file for T (bare, under ``state_dict``, or
a previous search's ``last.pt``; loaded strictly), as the paper does, and
``search.warmup_steps``, the first steps running lines 3 and 5 only (T
learns on F's output, beta stays where it is, its Adam and decay idle).
Both default off (null, 0): Algorithm 1 as printed; set them when a
trained T or a few hundred spare steps are at hand.

beta = softmax(alpha) with alpha starting at zero: every term starts equal
(the authors' code does the same), stays positive and sums to one. After
each beta step the outer loss at the *new* beta is measured again on the
same V (``search.check_every``), so the log shows whether the move went in
a direction the outer loss prefers (``outer_after - outer_before < 0``).

Outputs in ``output_dir``: ``beta.yaml`` (the found weights, rewritten
after every epoch, atomically), ``scalars.csv`` (per step: every beta, the
outer loss before/after, the task and fusion losses), ``last.pt`` (atomic,
weights-only; ``resume="auto"`` continues a killed search bit-exactly:
per-epoch reseeding as in the SSVIF trainer). Seeding, loaders, the log,
the checkpoint and resume are the loop core's (``training.loop.core``).
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any

import torch
from torch.func import functional_call
import torch.nn.functional as F
from training.caf.build import build_space, build_task_model, load_task_weights, write_beta_file
from training.caf.config import CAFConfig
from training.caf.space import CAFLossSpace
from training.checkpoint import rng_state, set_rng_state
from training.data.labelled import build_search_datasets, PairCollate
from training.data.transforms import IGNORE_INDEX
from training.hypergrad import one_step_hypergradient, one_step_outer_loss
from training.loop.core import Loop, to_device


__all__ = ['SearchResult', 'LossSearch']


@dataclass
class SearchResult:
    beta: dict[str, float]
    beta_file: Path
    history: list[dict]
    output_dir: Path


class LossSearch:
    """Holds F, T, alpha and their optimizers; ``run(resume)`` searches and writes beta.yaml."""

    def __init__(self, cfg: CAFConfig, datasets=None, progress: bool = False):
        from training.models import fusion_model_from_config

        self.cfg = cfg
        self.progress = progress
        self.device = torch.device(cfg.device if cfg.device != 'auto' else
                                   ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.out = Path(cfg.output_dir)
        self.train_ds, self.val_ds = (datasets if datasets is not None
                                      else build_search_datasets(cfg.data))
        torch.manual_seed(int(cfg.search.seed))
        self.space = build_space(cfg.space, cfg.base_dir).to(self.device)
        self.fusion = fusion_model_from_config(cfg.model).to(self.device)
        self.task = build_task_model(cfg.task)
        if cfg.task.init:
            init = Path(cfg.task.init)
            load_task_weights(self.task, init if init.is_absolute() else Path(cfg.base_dir) / init)
        self.task = self.task.to(self.device)
        s = cfg.search
        self.alpha = torch.zeros(len(self.space.searched), device=self.device, requires_grad=True)
        self.opt_alpha = torch.optim.Adam([self.alpha], lr=float(s.lr))
        self.sched_alpha = torch.optim.lr_scheduler.ExponentialLR(
            self.opt_alpha, gamma=float(s.lr_decay)
        )
        self.opt_fusion = torch.optim.SGD(self.fusion.parameters(), lr=float(s.fusion_lr),
                                          momentum=float(s.fusion_momentum),
                                          weight_decay=float(s.fusion_weight_decay))
        self.opt_task = torch.optim.Adam(self.task.parameters(), lr=float(cfg.task.lr))
        self.loop = Loop(seed=s.seed, epochs=s.epochs, out=self.out,
                         max_steps_per_epoch=s.max_steps_per_epoch, log_every=cfg.log_every,
                         progress=progress)
        self._collate = PairCollate(True, 'the loss search')

    # -- losses -----------------------------------------------------------------
    def fused_with(self, params: dict, batch: dict) -> torch.Tensor:
        """F(batch) with ``params`` (buffers copied: probes leave the BN statistics alone)."""
        buffers = {k: v.clone() for k, v in self.fusion.named_buffers()}
        return functional_call(
            self.fusion, {**params, **buffers}, (batch['visible'], batch['thermal'])
        ).fused

    def inner_loss(self, batch: dict):
        def loss(w: dict, h: dict) -> torch.Tensor:
            fused = self.fused_with(w, batch)
            return self.space.loss(
                fused, batch['thermal'], batch['visible'], CAFLossSpace.beta(h['alpha'])
            )
        return loss

    def outer_loss(self, batch: dict):
        def loss(w: dict, h: dict) -> torch.Tensor:
            logits = self.task(self.fused_with(w, batch))
            return F.cross_entropy(logits, batch['label'], ignore_index=IGNORE_INDEX)
        return loss

    def virtual_step_terms(self) -> dict[str, Any]:
        """
        Return the virtual step's optimiser terms (``search.virtual_step``).

        ``optimizer``: F's SGD momentum, weight decay and momentum buffers (by
        parameter name), so w' is the step that optimiser would take next;
        ``plain``: none (w' = w - eta g).
        """
        if self.cfg.search.virtual_step == 'plain':
            return {}
        group = self.opt_fusion.param_groups[0]
        bufs = {n: self.opt_fusion.state.get(p, {}).get('momentum_buffer')
                for n, p in self.fusion.named_parameters()}
        return {'momentum': float(group['momentum']),
                'weight_decay': float(group['weight_decay']),
                'momentum_buffer': {n: b for n, b in bufs.items() if b is not None}}

    # -- one step ---------------------------------------------------------------
    def step(self, b: dict, v: dict) -> dict[str, float]:
        s, step = self.cfg.search, self.loop.global_step
        rec: dict[str, float] = {}
        # line 3: task network on the fused training batch (F frozen)
        with torch.no_grad():
            fused = self.fusion(b['visible'], b['thermal']).fused
        task_loss = F.cross_entropy(self.task(fused), b['label'], ignore_index=IGNORE_INDEX)
        self.opt_task.zero_grad(set_to_none=True)
        task_loss.backward()
        self.opt_task.step()
        rec['L_task_train'] = float(task_loss.detach())
        # line 5: fusion network on the beta-weighted loss
        beta = CAFLossSpace.beta(self.alpha.detach())
        terms = self.space.terms(
            self.fusion(b['visible'], b['thermal']).fused, b['thermal'], b['visible']
        )
        fusion_loss = self.space.total(terms, beta)
        if not torch.isfinite(fusion_loss):
            raise RuntimeError(
                f'fusion loss is {float(fusion_loss)} at search step {step}'
            )
        self.opt_fusion.zero_grad(set_to_none=True)
        fusion_loss.backward()
        self.opt_fusion.step()
        rec['L_fusion'] = float(fusion_loss.detach())
        rec.update({f'loss_{k}': float(t.detach()) for k, t in terms.items()})
        # line 7: beta by the one-step truncated hypergradient (Eq. 2-3)
        params = {k: p.detach() for k, p in self.fusion.named_parameters()}
        inner, outer = self.inner_loss(b), self.outer_loss(v)
        vstep = self.virtual_step_terms()
        if step < int(s.warmup_steps):  # T warms up: beta frozen, its optimiser idle
            rec['L_outer_before'] = one_step_outer_loss(
                inner, outer, params, {'alpha': self.alpha.detach()}, lr=float(s.fusion_lr),
                **vstep)
            rec['warmup'] = 1.0
            return self._record_beta(rec)
        res = one_step_hypergradient(inner, outer, params, {'alpha': self.alpha.detach()},
                                     lr=float(s.fusion_lr), radius=float(s.fd_radius), **vstep)
        grad = res.grad['alpha']
        if not torch.isfinite(grad).all():
            raise RuntimeError(f'non-finite hypergradient at search step {step}')
        self.opt_alpha.zero_grad(set_to_none=True)
        self.alpha.grad = grad.clone()
        self.opt_alpha.step()
        rec['lr_beta'] = self.opt_alpha.param_groups[0]['lr']
        self.sched_alpha.step()
        rec.update(
            L_outer_before=res.outer_loss, hypergrad_norm=float(grad.norm()), fd_delta=res.fd_delta
        )
        if s.check_every and step % int(s.check_every) == 0:
            after = one_step_outer_loss(inner, outer, params, {'alpha': self.alpha.detach()},
                                        lr=float(s.fusion_lr), **vstep)
            rec.update(L_outer_after=after, L_outer_change=after - res.outer_loss)
        return self._record_beta(rec)

    def _record_beta(self, rec: dict[str, float]) -> dict[str, float]:
        for n, bv in zip(self.space.searched, CAFLossSpace.beta(self.alpha.detach())):
            rec[f'beta_{n}'] = float(bv)
        return rec

    # -- epochs, checkpoints --------------------------------------------------------
    def _loader(self, ds, epoch: int, salt: int):
        return self.loop.loader(ds, int(self.cfg.data.batch_size), epoch=epoch, salt=salt,
                                collate=self._collate, workers=int(self.cfg.data.workers))

    def _val_batches(self, epoch: int):
        while True:  # the search-validation set is usually smaller: cycle it
            for vb in self._loader(self.val_ds, epoch, 1):
                yield vb
            epoch += 1_000

    def state(self) -> dict[str, Any]:
        return {
            'epoch': self.loop.epoch,
            'global_step': self.loop.global_step,
            'alpha': self.alpha.detach().cpu(),
            'models': {'fusion': self.fusion.state_dict(), 'task': self.task.state_dict()},
            'optimizers': {
                'alpha': self.opt_alpha.state_dict(),
                'fusion': self.opt_fusion.state_dict(),
                'task': self.opt_task.state_dict(),
                'alpha_sched': self.sched_alpha.state_dict(),
            },
            'history': self.loop.history,
            'rng': rng_state(),
            'caf_config': self.cfg.to_dict(),
        }

    def load_state(self, st: dict) -> None:
        if list(st['caf_config']['space']['searched']) != list(self.space.searched):
            raise ValueError('checkpoint and config search different loss terms (space.searched)')
        self.fusion.load_state_dict(st['models']['fusion'])
        self.task.load_state_dict(st['models']['task'])
        with torch.no_grad():
            self.alpha.copy_(st['alpha'].to(self.device))
        o = st['optimizers']
        self.opt_alpha.load_state_dict(o['alpha'])
        self.opt_fusion.load_state_dict(o['fusion'])
        self.opt_task.load_state_dict(o['task'])
        self.sched_alpha.load_state_dict(o['alpha_sched'])
        self.loop.load_state_dict(st)
        set_rng_state(st['rng'])

    def _perceptual_path(self) -> str | None:
        """Return the VGG-16 file as an absolute path (beta.yaml may be read from anywhere)."""
        pw = self.cfg.space.perceptual_weights
        if not pw or Path(pw).is_absolute():
            return pw
        return str((Path(self.cfg.base_dir) / pw).resolve())

    def _info(self) -> dict:
        d = self.cfg.data
        return {'epochs': self.loop.epoch, 'steps': self.loop.global_step,
                'data': f'{d.kind}:{d.root}',
                'task': self.cfg.task.model, 'backbone': self.cfg.model.backbone}

    def run(self, resume: str | Path | None = None) -> SearchResult:
        loop = self.loop
        loop.resume(resume, self.load_state, fresh_log=True)  # a fresh search: a fresh log
        self.fusion.train()
        self.task.train()
        while loop.running:
            loop.seed_epoch()
            vals = self._val_batches(loop.epoch)
            loader = self._loader(self.train_ds, loop.epoch, 0)
            n = loop.steps_in(loader)
            sums: dict[str, float] = {}
            counts: dict[str, int] = {}  # warm-up and check_every steps lack some keys
            for b in loop.batches(loader, f'search epoch {loop.epoch + 1}/{loop.epochs}', n):
                rec = self.step(to_device(b, self.device), to_device(next(vals), self.device))
                for k, val in rec.items():
                    sums[k] = sums.get(k, 0.0) + val
                    counts[k] = counts.get(k, 0) + 1
                loop.step_done(rec, {'outer': rec['L_outer_before'], 'fusion': rec['L_fusion']})
            entry = {
                'epoch': loop.epoch + 1,
                **{
                    f'mean_{k}': val / counts[k]
                    for k, val in sums.items()
                    if not k.startswith('beta_')
                },
            }
            entry.update({f'beta_{k}': float(b) for k, b in
                          zip(self.space.searched, CAFLossSpace.beta(self.alpha.detach()))})
            loop.end_epoch(entry, {k: v for k, v in entry.items()
                                   if k != 'epoch' and isinstance(v, float) and math.isfinite(v)})
            write_beta_file(self.out / 'beta.yaml', self.space, self.alpha, self._info(),
                            self._perceptual_path())
            loop.save('last.pt', self.state())
        beta_file = write_beta_file(self.out / 'beta.yaml', self.space, self.alpha, self._info(),
                                    self._perceptual_path())
        beta = {
            n: float(b)
            for n, b in zip(self.space.searched, CAFLossSpace.beta(self.alpha.detach()))
        }
        return SearchResult(
            beta=beta, beta_file=beta_file, history=loop.history, output_dir=self.out
        )
