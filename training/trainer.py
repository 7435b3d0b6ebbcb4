"""SSVIF training loop: two-stage schedule, weighting, gradient analysis, resume.

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

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler

from training.checkpoint import load_checkpoint, resolve_resume, rng_state, save_checkpoint, set_rng_state
from training.config import TrainConfig
from training.distributed import DistContext, init_distributed
from training.gradients import RunningMean, cosine, grad_norm, projection_coefficient, task_gradients
from training.logging import ScalarLogger, save_picture_grid
from training.losses import CSCLoss, FusionLoss
from training.weighting import LossWeighting, WeightingContext, build_weighting

__all__ = ["TrainingDiverged", "TrainResult", "stage_switch_due", "train", "Trainer", "build_models"]


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the term and the step."""


@dataclass
class TrainResult:
    history: list[dict]
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    stage_switch_epoch: int | None   # 1-based number of the first Stage-II epoch
    output_dir: Path
    stopped_early: bool = False
    scalars_csv: Path | None = None
    grids: list[Path] = field(default_factory=list)


def stage_switch_due(stage1_means: list[float], stage1_max_epochs: int | None = None) -> bool:
    """Paper rule after a Stage-I epoch: last epoch-mean fusion loss > the one before (or cap hit)."""
    if stage1_max_epochs is not None and len(stage1_means) >= int(stage1_max_epochs):
        return True
    return len(stage1_means) >= 2 and stage1_means[-1] > stage1_means[-2]


def build_models(cfg: TrainConfig) -> dict[str, torch.nn.Module | None]:
    """Fusion model, plus head and SegFormer only when the config uses L_csc."""
    from training.models import SegHead, build_fusion_model

    fusion = build_fusion_model(cfg.model.backbone, in_channels=cfg.model.in_channels,
                                **(cfg.model.backbone_kwargs or {}))
    head = seg = None
    if cfg.uses_branches:
        from training.models.segformer import SegmentationModel

        head = SegHead(fusion.out_channels, cfg.model.seg_classes, hidden=cfg.model.seg_head_hidden)
        seg = SegmentationModel(cfg.model.segformer, cfg.model.seg_classes)
    return {"fusion": fusion, "head": head, "seg": seg}


def _weighting_options(cfg: TrainConfig) -> dict:
    opts = dict(cfg.weighting.options or {})
    if cfg.weighting.name in ("dwa", "segmif"):
        opts.setdefault("relative", True)  # Eq. 2 form, fusion multiplier 1
    return opts


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + int(rank) * 104_729) % (2**31 - 1)


def _collate(batch: list[dict]) -> dict:
    if any("label" in b for b in batch):
        raise RuntimeError("SSVIF training is label-free: the dataset returned a 'label' key")
    return {"visible": torch.stack([b["visible"] for b in batch]),
            "thermal": torch.stack([b["thermal"] for b in batch]),
            "name": [b["name"] for b in batch]}


class Trainer:
    """Holds models, optimizers and state; ``run()`` trains and returns a TrainResult."""

    def __init__(self, cfg: TrainConfig, datasets: tuple[Dataset, Dataset] | None = None,
                 progress: bool = True, dist: DistContext | None = None):
        self.cfg = cfg
        self.progress = progress
        self.dist = dist or init_distributed(cfg.device)
        self.device = self.dist.device
        self.out = Path(cfg.output_dir)
        if datasets is None:
            from training.data import build_datasets

            datasets = build_datasets(cfg.data)
        self.train_ds, self.val_ds = datasets
        torch.manual_seed(int(cfg.seed))  # identical initial weights on every rank
        models = build_models(cfg)
        self.fusion = models["fusion"].to(self.device)
        self.head = models["head"].to(self.device) if models["head"] is not None else None
        self.seg = models["seg"].to(self.device) if models["seg"] is not None else None
        for m in (self.fusion, self.head, self.seg):
            self.dist.broadcast_module(m)
        single = cfg.model.in_channels == 1
        self.fusion_loss = FusionLoss(cfg.loss.lambdas, channels="single" if single else "per_channel")
        self.csc_loss = CSCLoss(eps=cfg.loss.csc_eps)
        self.weighting: LossWeighting = build_weighting(cfg.weighting.name, **_weighting_options(cfg))
        for p in self.weighting.parameters():
            p.data = p.data.to(self.device)
        self.opt_fusion = self._adam(list(self.fusion.parameters()) + list(self.weighting.parameters()))
        self.opt_branches: torch.optim.Optimizer | None = None
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
        if cfg.uses_branches and not cfg.two_stage:
            self._enter_stage2(first_epoch=1)
        main = self.dist.is_main
        self.scalars = ScalarLogger(self.out / "scalars.csv", enabled=main)
        self.grids: list[Path] = []
        self._grid_samples = self._pick_grid_samples()

    # -- setup helpers ----------------------------------------------------
    def _adam(self, params) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)

    def _enter_stage2(self, first_epoch: int) -> None:
        self.stage = 2
        self.stage_switch_epoch = first_epoch
        if self.opt_branches is None:
            self.opt_branches = self._adam(list(self.head.parameters()) + list(self.seg.parameters()))
        self.best_val, self.best_epoch, self.bad_epochs = None, None, 0

    def _pick_grid_samples(self) -> list[dict]:
        n = min(int(self.cfg.grid_samples), len(self.val_ds)) if self.dist.is_main else 0
        return [self.val_ds[i] for i in range(n)]

    def _loader(self, ds: Dataset, train: bool, epoch: int) -> DataLoader:
        d = self.cfg.data
        g = torch.Generator().manual_seed(_epoch_seed(self.cfg.seed, epoch, 0))
        if self.dist.enabled:
            sampler = DistributedSampler(ds, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                         shuffle=train, seed=int(self.cfg.seed), drop_last=False)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(ds, generator=g) if train else SequentialSampler(ds)
        if train:
            bs = int(d.batch_size)
        else:
            bs = 1 if d.val_mode == "full" else int(d.val_batch_size or d.batch_size)
        return DataLoader(ds, batch_size=bs, sampler=sampler, num_workers=int(d.workers),
                          collate_fn=_collate, generator=g, drop_last=False,
                          persistent_workers=False, pin_memory=self.device.type == "cuda")

    def _train_mode(self, on: bool) -> None:
        for m in (self.fusion, self.head, self.seg):
            if m is not None:
                m.train(on)

    # -- one step ---------------------------------------------------------
    def _check_finite(self, terms: Mapping[str, torch.Tensor]) -> None:
        bad = next((k for k, v in terms.items() if not torch.isfinite(v.detach()).all()), None)
        if not self.dist.all_true(bad is None):
            if bad is None:
                raise TrainingDiverged(f"non-finite loss on another rank at step {self.global_step} "
                                       f"(epoch {self.epoch + 1})")
            raise TrainingDiverged(f"loss term {bad!r} is {float(terms[bad].detach()):g} at step "
                                   f"{self.global_step} (epoch {self.epoch + 1}, stage {self.stage})")

    def _step(self, batch: dict) -> dict[str, float]:
        cfg = self.cfg
        vis = batch["visible"].to(self.device, non_blocking=True)
        th = batch["thermal"].to(self.device, non_blocking=True)
        for m in (self.fusion, self.head, self.seg):
            self.dist.broadcast_module(m, buffers_only=True)
        out = self.fusion(vis, th)
        fterms = self.fusion_loss(out.fused, th, vis)
        losses = {"fusion": fterms["total"]}
        check = {f"fusion.{k}": v for k, v in fterms.items() if k != "total"}
        check["fusion"] = fterms["total"]
        if self.stage == 2:
            logits_a = self.head(out.features, size=tuple(vis.shape[-2:]))
            logits_b = self.seg(out.fused)
            csc = self.csc_loss(logits_a, logits_b)
            losses["csc"] = csc["total"]
            check.update({"csc.hyb_a": csc["hyb_a"], "csc.hyb_b": csc["hyb_b"], "csc": csc["total"]})
        self._check_finite(check)

        rec: dict[str, float] = {f"loss_{k.replace('fusion.', '')}": float(v.detach())
                                 for k, v in check.items() if k.startswith("fusion.")}
        rec["L_fusion"] = float(losses["fusion"].detach())
        if self.stage == 2:
            rec["L_csc"] = float(losses["csc"].detach())
            want_norms = self.weighting.wants_grad_norms(self.global_step)
            want_analysis = cfg.grad_analysis and self.global_step % int(cfg.grad_analysis_every) == 0
            ctx = WeightingContext(step=self.global_step, epoch=self.epoch)
            if want_norms or want_analysis:
                grads = task_gradients(losses, self.fusion.parameters())
                grads = {k: self.dist.all_reduce_mean(g) for k, g in grads.items()}
                norms = {k: float(grad_norm(g)) for k, g in grads.items()}
                rec.update(g_fusion=norms["fusion"], g_csc=norms["csc"])
                if want_norms:
                    ctx.grad_norms = norms
                if want_analysis:
                    alpha = float(projection_coefficient(grads["csc"], grads["fusion"]))
                    self.alpha_mean.update(alpha)
                    rec.update(alpha_cf=alpha, alpha_cf_mean=self.alpha_mean.mean,
                               cos_cf=float(cosine(grads["csc"], grads["fusion"])))
                del grads
            step_losses = self.dist.mean_scalars({k: float(v.detach()) for k, v in losses.items()})
            w = self.weighting.weights({k: torch.tensor(v) for k, v in step_losses.items()}, ctx)
            total = self.weighting.total(losses, w)
            wf, wc = float(w["fusion"]), float(w["csc"])
            rec.update(w_fusion=wf, w_csc=wc, omega_csc=wc / wf if wf else float("inf"))
            last = getattr(self.weighting, "last", None) or {}
            for k, v in (last.get("lam") or {}).items():
                rec[f"lam_{k}"] = float(v)
        else:
            total = losses["fusion"]
        rec["L_total"] = float(total.detach())
        self._check_finite({"total": total.detach()})

        opts = [self.opt_fusion] + ([self.opt_branches] if self.stage == 2 else [])
        for o in opts:
            o.zero_grad(set_to_none=True)
        total.backward()
        for o in opts:
            self.dist.average_gradients(p for g in o.param_groups for p in g["params"])
            o.step()
        return rec

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
        n_steps = len(loader) if cfg.max_steps_per_epoch is None else min(len(loader), int(cfg.max_steps_per_epoch))
        sums: dict[str, float] = {}
        count = 0
        bar = None
        if self.progress and self.dist.is_main:
            from tqdm import tqdm

            bar = tqdm(total=n_steps, desc=f"epoch {self.epoch + 1}/{cfg.epochs} stage {self.stage}",
                       leave=False, dynamic_ncols=True)
        t_epoch = time.perf_counter()
        for i, batch in enumerate(loader):
            if i >= n_steps:
                break
            t0 = time.perf_counter()
            rec = self._step(batch)
            n = len(batch["name"]) * self.dist.world_size
            rec["samples_per_s"] = n / max(time.perf_counter() - t0, 1e-9)
            rec["lr"] = self.opt_fusion.param_groups[0]["lr"]
            rec["stage"] = self.stage
            for k in ("L_fusion", "L_csc", "omega_csc", "g_fusion", "g_csc", "alpha_cf", "cos_cf",
                      "loss_int", "loss_grad", "loss_ssim", "loss_color"):
                if k in rec:
                    sums[k] = sums.get(k, 0.0) + rec[k] * len(batch["name"])
                    sums[f"_n_{k}"] = sums.get(f"_n_{k}", 0.0) + len(batch["name"])
            count += len(batch["name"])
            if self.global_step % int(cfg.log_every) == 0:
                self.scalars.log("step", self.epoch + 1, self.global_step, rec)
            self.global_step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{rec[k]:.3g}" for k in ("L_fusion", "L_csc", "omega_csc") if k in rec})
        if bar is not None:
            bar.close()
        for m in (self.fusion, self.head, self.seg):  # validate/save with rank 0's BN statistics
            self.dist.broadcast_module(m, buffers_only=True)
        elapsed = time.perf_counter() - t_epoch
        totals = self.dist.sum_scalars({**sums, "_count": count})
        means = {f"train_{k}": totals[k] / totals[f"_n_{k}"] for k in sums if not k.startswith("_n_")
                 and totals.get(f"_n_{k}", 0) > 0}
        means["train_samples_per_s"] = totals["_count"] / max(elapsed, 1e-9)
        return means

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        self._train_mode(False)
        sums = {"fusion": 0.0, "csc": 0.0}
        n = 0
        for batch in self._loader(self.val_ds, False, self.epoch):
            vis, th = batch["visible"].to(self.device), batch["thermal"].to(self.device)
            out = self.fusion(vis, th)
            b = vis.shape[0]
            sums["fusion"] += float(self.fusion_loss(out.fused, th, vis)["total"]) * b
            if self.stage == 2:
                la = self.head(out.features, size=tuple(vis.shape[-2:]))
                sums["csc"] += float(self.csc_loss(la, self.seg(out.fused))["total"]) * b
            n += b
        self._train_mode(True)
        tot = self.dist.sum_scalars({**sums, "n": n})
        if tot["n"] == 0:
            return {}
        res = {"val_L_fusion": tot["fusion"] / tot["n"]}
        if self.stage == 2:
            res["val_L_csc"] = tot["csc"] / tot["n"]
        return res

    @torch.no_grad()
    def _grid(self) -> None:
        if not self._grid_samples:
            return
        self.fusion.eval()
        rows = []
        for s in self._grid_samples:
            fused = self.fusion(s["visible"][None].to(self.device), s["thermal"][None].to(self.device)).fused[0]
            rows.append({"visible": s["visible"], "thermal": s["thermal"], "fused": fused})
        self.fusion.train()
        self.grids.append(save_picture_grid(self.out / "grids" / f"epoch_{self.epoch + 1:03d}.png", rows,
                                            [s["name"] for s in self._grid_samples],
                                            title=f"epoch {self.epoch + 1} (stage {self.stage})"))

    # -- checkpoints --------------------------------------------------------
    def state(self) -> dict[str, Any]:
        sd = lambda m: None if m is None else m.state_dict()  # noqa: E731
        return {
            "epoch": self.epoch, "global_step": self.global_step, "stage": self.stage,
            "stage_switch_epoch": self.stage_switch_epoch,
            "models": {"fusion": sd(self.fusion), "head": sd(self.head), "seg": sd(self.seg)},
            "optimizers": {"fusion": self.opt_fusion.state_dict(), "branches": sd(self.opt_branches)},
            "weighting": self.weighting.state_dict(),
            "history": self.history,
            "best": {"val": self.best_val, "epoch": self.best_epoch, "bad_epochs": self.bad_epochs},
            "alpha_mean": self.alpha_mean.state_dict(),
            "rng": rng_state(),
            "config": self.cfg.to_dict(),
        }

    def load_state(self, st: Mapping[str, Any]) -> None:
        if (st["models"]["head"] is None) != (self.head is None):
            raise ValueError("checkpoint and config disagree on segmentation branches (csc/framework)")
        self.fusion.load_state_dict(st["models"]["fusion"])
        if self.head is not None:
            self.head.load_state_dict(st["models"]["head"])
            self.seg.load_state_dict(st["models"]["seg"])
        if st["stage"] == 2 and self.stage != 2:
            self._enter_stage2(st["stage_switch_epoch"])
        self.opt_fusion.load_state_dict(st["optimizers"]["fusion"])
        if st["optimizers"]["branches"] is not None:
            self.opt_branches.load_state_dict(st["optimizers"]["branches"])
        self.weighting.load_state_dict(st["weighting"])
        self.epoch, self.global_step = int(st["epoch"]), int(st["global_step"])
        self.stage, self.stage_switch_epoch = int(st["stage"]), st["stage_switch_epoch"]
        self.history = [dict(h) for h in st["history"]]
        b = st["best"]
        self.best_val, self.best_epoch, self.bad_epochs = b["val"], b["epoch"], int(b["bad_epochs"])
        self.alpha_mean.load_state_dict(st["alpha_mean"])
        set_rng_state(st["rng"])

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
        if (self.out / "best.pt").is_file() and ckpt is not None:
            best = self.out / "best.pt"
        stopped = False
        eligible_stage = 2 if (cfg.uses_branches and cfg.two_stage) else 1
        while self.epoch < int(cfg.epochs):
            means = self._train_epoch()
            means.update(self._validate())
            entry = {"epoch": self.epoch + 1, "stage": self.stage, **means}
            if self.stage == 2 and cfg.grad_analysis and self.alpha_mean.mean is not None:
                entry["alpha_cf_run_mean"] = self.alpha_mean.mean
            epoch_losses = {"fusion": means["train_L_fusion"]}
            if self.stage == 2:
                epoch_losses["csc"] = means["train_L_csc"]
            self.weighting.epoch_end(epoch_losses)
            improved = False
            val = means.get("val_L_fusion", means["train_L_fusion"])
            if self.stage >= eligible_stage:
                if self.best_val is None or val < self.best_val:
                    self.best_val, self.best_epoch, self.bad_epochs, improved = val, self.epoch + 1, 0, True
                else:
                    self.bad_epochs += 1
            entry["best_val_L_fusion"] = self.best_val
            self.history.append(entry)
            if self.dist.is_main:
                self.scalars.log("epoch", self.epoch + 1, self.global_step,
                                 {k: v for k, v in entry.items() if k != "epoch" and isinstance(v, (int, float))})
                self._grid()
            # decide the switch before saving so a resume continues in the right stage
            next_stage2 = False
            if self.stage == 1 and cfg.uses_branches:
                s1 = [h["train_L_fusion"] for h in self.history if h["stage"] == 1]
                next_stage2 = stage_switch_due(s1, cfg.stage1_max_epochs)
            self.epoch += 1
            if next_stage2:
                self._enter_stage2(first_epoch=self.epoch + 1)
            if improved:
                best = self._save("best.pt")
            if self.epoch % int(cfg.checkpoint_every) == 0 or self.epoch == int(cfg.epochs):
                last = self._save("last.pt")
            p = cfg.early_stopping_patience
            if p is not None and self.bad_epochs >= int(p):
                stopped = True
                if last is None or self.epoch % int(cfg.checkpoint_every) != 0:
                    last = self._save("last.pt")
                break
        self.dist.barrier()
        return TrainResult(history=self.history, best_checkpoint=best, last_checkpoint=last,
                           stage_switch_epoch=self.stage_switch_epoch, output_dir=self.out,
                           stopped_early=stopped, scalars_csv=self.scalars.path if self.dist.is_main else None,
                           grids=list(self.grids))


def train(cfg: TrainConfig, progress: bool = True, resume: str | Path | None = None,
          datasets: tuple[Dataset, Dataset] | None = None) -> TrainResult:
    """Train SSVIF as configured; ``resume`` = checkpoint path or ``"auto"`` (output_dir/last.pt).

    ``datasets`` = (train, val) overrides ``cfg.data`` (tests, custom data):
    items must be dicts with ``visible`` (3,H,W), ``thermal`` (1,H,W) in
    [0, 1] and ``name``; a ``label`` key is refused.
    """
    dist = init_distributed(cfg.device)
    try:
        return Trainer(cfg, datasets=datasets, progress=progress, dist=dist).run(resume)
    finally:
        dist.close()
