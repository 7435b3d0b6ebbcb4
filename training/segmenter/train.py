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
The segmenter training: fused (or made) images in, the best segmenter out.

On the loop core (``training.loop.core``): one seeded generator draws the
order, the crops and the flips (no per-epoch reseeding, as ever), the
epoch's batches come behind its progress bar, and :class:`BestTracker`
keeps the best score for early stopping and the best weights. Scores come
from ``evaluation.metrics.segmentation`` (the public metrics module, the
one part of evaluation training may import).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Callable

from evaluation.metrics.segmentation import SegmentationScore
import numpy as np
import torch
from torch.utils.data import Dataset
from training.checkpoint import model_fingerprint
from training.loop.core import BestTracker, Loop, make_loader
from training.segmenter.model import (build_segmenter_net, save_segmenter, ScaledSegmenter,
                                      SegmenterConfig, SegmenterLoss, set_encoder_trainable)


__all__ = ['FusedBatches', 'SegmenterResult', 'evaluate', 'segmenter_input', 'train_segmenter']


@dataclass
class SegmenterResult:
    model: ScaledSegmenter
    history: list = field(default_factory=list)
    best_miou: float = float('nan')
    checkpoint: Path | None = None


class FusedBatches:
    """
    Wrap a frozen fusion model: (visible, thermal) -> fused image, no grad.

    Shared with the evaluation protocol, which trains and scores segmenters the same
    way.
    """

    def __init__(self, fusion: torch.nn.Module):
        self.fusion = fusion.eval()
        for p in self.fusion.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def __call__(self, visible: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        return self.fusion(visible, thermal).fused


def segmenter_input(batch: dict, fuse: FusedBatches | None) -> torch.Tensor:
    """Return the image the segmenter sees: ``batch['image']`` if made already, else fused."""
    if 'image' in batch:
        return batch['image']
    if fuse is None:
        raise ValueError('batches hold visible/thermal pairs but no fusion model was given')
    return fuse(batch['visible'], batch['thermal'])


def _random_crop(batch: dict, size: int | None, gen: torch.Generator) -> dict:
    if size is None:
        return batch
    h, w = batch['visible'].shape[-2:]
    if h <= size and w <= size:
        return batch
    y = int(torch.randint(0, max(1, h - size + 1), (1,), generator=gen))
    x = int(torch.randint(0, max(1, w - size + 1), (1,), generator=gen))
    return {
        k: (v[..., y:y + size, x:x + size] if torch.is_tensor(v) and v.ndim >= 3 else v)
        for k, v in batch.items()
    }


def evaluate(model: ScaledSegmenter, fuse: FusedBatches, loader,
             class_set: str) -> SegmentationScore:
    score = SegmentationScore(class_set)
    model.eval()
    with torch.no_grad():
        for b in loader:
            pred = model.decide(model(segmenter_input(b, fuse)))
            for lab, pr in zip(b['label'].numpy(), pred.numpy()):
                score.update(lab, pr)
    return score


def train_segmenter(
    fusion: torch.nn.Module | None,
    train_set: Dataset,
    val_set: Dataset | None,
    cfg: SegmenterConfig,
    output: str | Path | None = None,
    progress: bool = True,
    validate: Callable[[ScaledSegmenter], float] | None = None,
    source_fingerprint: str | None = None,
) -> SegmenterResult:
    """
    Train the segmenter on ``train_set`` (validated on ``val_set`` or by ``validate``).

    Items are dicts with visible (3,H,W), thermal (1,H,W) in [0,1] and label
    (H,W) long, fused here by the frozen ``fusion``; or with ``image``
    (3,H,W) already made (``training.data.segmentation.SegmentationSamples``,
    ``fusion`` may then be None). Labels may hold
    set labels (``training.labels.SET_BASE``). ``validate(model)`` returns a score
    to maximise (early stopping and best weights); without it the mIoU on
    ``val_set``. The checkpoint records the fingerprint of the fusion network
    the inputs came from (``source_fingerprint`` when ``fusion`` is None), so
    ``ssvif_export`` can warn when a segmenter is paired with another one.
    """
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)  # the order, the crops and the flips
    net = build_segmenter_net(cfg.variant, cfg.num_classes, cfg.init_checkpoint, cfg.width,
                              cfg.in_channels)
    model = ScaledSegmenter(net, cfg.scale, cfg.bias_vector(), cfg.flip_average)
    fuse = FusedBatches(fusion) if fusion is not None else None
    loss_fn = SegmenterLoss(cfg)
    loader = make_loader(train_set, cfg.batch_size, shuffle=True, generator=gen,
                         workers=cfg.workers, drop_last=len(train_set) > cfg.batch_size)
    val_loader = make_loader(val_set, 1) if val_set is not None and len(val_set) else None
    loop = Loop(seed=cfg.seed, epochs=cfg.epochs, max_steps_per_epoch=cfg.max_steps_per_epoch,
                progress=progress)
    steps = loop.steps_in(loader)
    result = SegmenterResult(model, history=loop.history)
    # early stopping on the validation score (or mIoU), or on training loss without either
    best, best_state = BestTracker('max', cfg.patience, start=-math.inf), None
    opt = sched = None
    while loop.running:
        epoch = loop.epoch
        if hasattr(train_set, 'set_epoch'):
            train_set.set_epoch(epoch)
        if epoch == 0 or epoch == cfg.freeze_epochs:
            frozen = epoch < cfg.freeze_epochs
            set_encoder_trainable(model, not frozen)
            lr = cfg.lr if (frozen or cfg.freeze_epochs == 0) else cfg.lr_unfrozen
            phase_epochs = cfg.freeze_epochs if frozen else cfg.epochs - cfg.freeze_epochs
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                    weight_decay=cfg.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(1, phase_epochs * steps)
            )
        model.train()
        losses = []
        for b in loop.batches(loader, f'segmenter {epoch + 1}/{cfg.epochs}', steps,
                              read_past=False):
            if 'image' not in b:  # pairs: crop, flip and fuse here (samples augment themselves)
                b = _random_crop(b, cfg.crop, gen)
                if torch.rand(1, generator=gen).item() < 0.5:
                    b = {
                        k: (v.flip(-1) if torch.is_tensor(v) and v.ndim >= 3 else v)
                        for k, v in b.items()
                    }
            logits = model(segmenter_input(b, fuse))
            loss = loss_fn(logits, b['label'])
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f'segmenter loss is {loss.item()} at epoch {epoch + 1}')
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        entry = {
            'epoch': epoch + 1,
            'loss': float(np.mean(losses)),
            'lr': opt.param_groups[0]['lr'],
        }
        if validate is not None:
            model.eval()
            entry['val_score'] = float(validate(model))
        elif val_loader is not None:
            entry['val_miou'] = evaluate(model, fuse, val_loader, cfg.class_set).miou()
        loop.end_epoch(entry)
        if progress:
            print(f"segmenter epoch {epoch + 1}/{cfg.epochs}: loss {entry['loss']:.4f}"
                  + ''.join(f', {k} {entry[k]:.4f}' for k in ('val_miou', 'val_score')
                            if k in entry), flush=True)
        if best.update(entry.get('val_score', entry.get('val_miou', -entry['loss'])), epoch + 1):
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_miou = entry.get('val_miou', entry.get('val_score', float('nan')))
        elif best.exhausted:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    if output is not None:
        result.checkpoint = save_segmenter(model, cfg, result.history, output,
                                           fusion_fingerprint=(model_fingerprint(fusion)
                                                               if fusion is not None
                                                               else source_fingerprint))
    return result
