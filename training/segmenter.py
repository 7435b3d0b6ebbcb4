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
Train the segmenter whose class ids the node publishes.

SSVIF's own branches learn unnamed classes, so masks with real class names
come from a segmenter trained on the fused images of a labelled set, as in
the paper's evaluation protocol (Appendix A-B): SegFormer, cross-entropy,
AdamW, encoder frozen for the first epochs, cosine schedule, early
stopping. The fusion model is frozen here; fused images are made on the fly
so augmentation and the fusion model can change without re-rendering.

The paper fine-tunes a pretrained SegFormer with its encoder frozen for the
first ``freeze_epochs`` = 30 epochs. Nothing is downloaded here: a user with
a checkpoint passes ``init_checkpoint`` (a Hugging Face folder, or a
SegFormer state dict in the original MiT naming as SegMiF releases it; see
``training.models.pretrained_segformer``), otherwise the segmenter starts
from scratch and configs set ``freeze_epochs: 0`` (a frozen random encoder
teaches nothing).

Scores come from ``evaluation.metrics.segmentation`` (the public metrics
module, the one part of evaluation training may import).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
from pathlib import Path
from typing import Callable

from evaluation.metrics.segmentation import SegmentationScore
import numpy as np
from ros2_ssvif.classes import CLASS_SETS
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from training.checkpoint import (CheckpointError, load_checkpoint, model_fingerprint,
                                 save_checkpoint)
from training.labels import BACKGROUND_ANY, background_classes, is_object_class
from training.losses.segmentation import partial_label_ce
from training.models.segformer import SegmentationModel


@dataclass
class SegmenterConfig:
    variant: str = 'b3'  # SegFormer b3 / b0 / tiny, or "compact" (a small CNN for CPU vehicles)
    # start from a user's checkpoint: a Hugging Face folder or a MiT-named .pth (variant ignored)
    init_checkpoint: str | None = None
    class_set: str = 'fmb'
    epochs: int = 80
    batch_size: int = 12
    freeze_epochs: int = 30
    lr: float = 5e-4  # while the encoder is frozen (and from the start if freeze_epochs = 0)
    lr_unfrozen: float = 3e-5  # after unfreezing
    weight_decay: float = 0.01
    patience: int = 10
    crop: int | None = 512
    max_steps_per_epoch: int | None = None
    seed: int = 0
    workers: int = 0
    # Segment at this fraction of the image size (logits are upsampled back).
    # 0.5 makes SegFormer 4x cheaper on a CPU-only vehicle; 1.0 is the paper.
    scale: float = 1.0
    width: int = 24  # compact / context variants only: channels of their first stage
    # loss weight of the box-group classes (person, car, bicycle, ...): they are few pixels
    object_weight: float = 1.0

    @property
    def num_classes(self) -> int:
        return len(CLASS_SETS[self.class_set][0])


class ScaledSegmenter(torch.nn.Module):
    """
    Runs a segmenter on a resized image and returns logits at full size.

    Training and the exported graph use the same module, so the segmenter
    is trained at exactly the scale it runs at.
    """

    def __init__(self, model: torch.nn.Module, scale: float = 1.0):
        super().__init__()
        if not 0.0 < scale <= 1.0:
            raise ValueError(f'segmenter scale must be in (0, 1], got {scale}')
        self.model = model
        self.scale = float(scale)
        self.num_classes = model.num_classes

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.scale == 1.0:
            return self.model(image)
        h, w = image.shape[-2:]
        small = F.interpolate(image, scale_factor=self.scale, mode='bilinear', align_corners=False,
                              antialias=False, recompute_scale_factor=False)
        return F.interpolate(self.model(small), size=(h, w), mode='bilinear', align_corners=False)

    def class_ids(self, image: torch.Tensor) -> torch.Tensor:
        """
        Class ids at full size: the argmax at the segmenter's own scale, upsampled nearest.

        What the exported graph runs. Resizing all class logits to full size and
        taking the argmax there cost more than a compact segmenter itself on a CPU
        (measured: ~6 of 30 ms per 640x480 pair); the masks differ only along class
        boundaries, by at most the upsampling factor. Training keeps the bilinear
        full-size logits for its loss.
        """
        if self.scale == 1.0:
            return self.model(image).argmax(1)
        h, w = image.shape[-2:]
        small = F.interpolate(image, scale_factor=self.scale, mode='bilinear', align_corners=False,
                              antialias=False, recompute_scale_factor=False)
        ids = self.model(small).argmax(1, keepdim=True).to(image.dtype)
        return F.interpolate(ids, size=(h, w), mode='nearest')[:, 0].long()


@dataclass
class SegmenterResult:
    model: ScaledSegmenter
    history: list = field(default_factory=list)
    best_miou: float = float('nan')
    checkpoint: Path | None = None


class SegmenterLoss:
    """
    Cross-entropy on class ids and on :data:`training.labels.BACKGROUND_ANY` pixels.

    ``object_weight`` scales the pixels labelled with a box-group class
    (person, car, bicycle, ...): they are a few percent of a road scene's
    pixels and the ones a vehicle most needs.
    """

    def __init__(self, cfg: SegmenterConfig):
        names = CLASS_SETS[cfg.class_set][0]
        self.any_of = {BACKGROUND_ANY: torch.tensor(background_classes(cfg.class_set))}
        self.weights = None
        if cfg.object_weight != 1.0:
            self.weights = torch.tensor([cfg.object_weight if is_object_class(n) else 1.0
                                         for n in names])

    def __call__(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return partial_label_ce(logits, label, self.any_of, weights=self.weights)


def segmenter_input(batch: dict, fuse: FusedBatches | None) -> torch.Tensor:
    """Return the image the segmenter sees: ``batch['image']`` if made already, else fused."""
    if 'image' in batch:
        return batch['image']
    if fuse is None:
        raise ValueError('batches hold visible/thermal pairs but no fusion model was given')
    return fuse(batch['visible'], batch['thermal'])


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


def build_segmenter_net(variant: str, num_classes: int,
                        init_checkpoint: str | None = None, width: int = 24) -> torch.nn.Module:
    """
    Build a SegFormer, the compact CNN or a user's checkpoint.

    SegFormer: 'b3', 'b0', 'tiny'; the compact CNN: 'compact'.
    """
    if init_checkpoint:
        from training.models.pretrained_segformer import load_pretrained_segformer

        return load_pretrained_segformer(init_checkpoint, num_classes)
    if variant == 'compact':
        from training.models.compact_segmenter import CompactSegmenter

        return CompactSegmenter(num_classes, width=int(width))
    if variant == 'context':
        from training.models.compact_segmenter import ContextSegmenter

        return ContextSegmenter(num_classes, width=int(width))
    return SegmentationModel(variant, num_classes)


def _set_encoder_trainable(model: ScaledSegmenter, trainable: bool) -> None:
    net = model.model
    if isinstance(net, SegmentationModel):
        encoder = net.segformer.segformer
    elif hasattr(net, 'encoder_modules'):
        encoder = torch.nn.ModuleList(net.encoder_modules())
    else:
        encoder = net.enc
    for p in encoder.parameters():
        p.requires_grad_(trainable)


def evaluate(model: ScaledSegmenter, fuse: FusedBatches, loader,
             class_set: str) -> SegmentationScore:
    score = SegmentationScore(class_set)
    model.eval()
    with torch.no_grad():
        for b in loader:
            pred = model(segmenter_input(b, fuse)).argmax(1)
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
    ``training.labels.BACKGROUND_ANY``. ``validate(model)`` returns a score
    to maximise (early stopping and best weights); without it the mIoU on
    ``val_set``. The checkpoint records the fingerprint of the fusion network
    the inputs came from (``source_fingerprint`` when ``fusion`` is None), so
    ``ssvif_export`` can warn when a segmenter is paired with another one.
    """
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = build_segmenter_net(cfg.variant, cfg.num_classes, cfg.init_checkpoint, cfg.width)
    model = ScaledSegmenter(net, cfg.scale)
    fuse = FusedBatches(fusion) if fusion is not None else None
    loss_fn = SegmenterLoss(cfg)
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                        num_workers=cfg.workers, drop_last=len(train_set) > cfg.batch_size)
    val_loader = (
        DataLoader(val_set, batch_size=1) if val_set is not None and len(val_set) else None
    )
    steps = (
        len(loader)
        if cfg.max_steps_per_epoch is None
        else min(len(loader), cfg.max_steps_per_epoch)
    )
    result = SegmenterResult(model)
    best_state, bad_epochs, best_metric = None, 0, -math.inf
    opt = sched = None
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    for epoch in range(cfg.epochs):
        if hasattr(train_set, 'set_epoch'):
            train_set.set_epoch(epoch)
        if epoch == 0 or epoch == cfg.freeze_epochs:
            frozen = epoch < cfg.freeze_epochs
            _set_encoder_trainable(model, not frozen)
            lr = cfg.lr if (frozen or cfg.freeze_epochs == 0) else cfg.lr_unfrozen
            phase_epochs = cfg.freeze_epochs if frozen else cfg.epochs - cfg.freeze_epochs
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                    weight_decay=cfg.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(1, phase_epochs * steps)
            )
        model.train()
        losses = []
        it = iter(loader)
        bar = (
            tqdm(
                range(steps),
                desc=f'segmenter {epoch + 1}/{cfg.epochs}',
                disable=not progress,
                leave=False,
            )
            if tqdm
            else range(steps)
        )
        for _ in bar:
            b = next(it)
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
        result.history.append(entry)
        if progress:
            print(f"segmenter epoch {epoch + 1}/{cfg.epochs}: loss {entry['loss']:.4f}"
                  + ''.join(f', {k} {entry[k]:.4f}' for k in ('val_miou', 'val_score')
                            if k in entry), flush=True)
        # early stopping on the validation score (or mIoU), or on training loss without either
        metric = entry.get('val_score', entry.get('val_miou', -entry['loss']))
        if metric > best_metric:
            best_metric, bad_epochs = metric, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_miou = entry.get('val_miou', entry.get('val_score', float('nan')))
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    if output is not None:
        result.checkpoint = save_segmenter(model, cfg, result.history, output,
                                           fusion_fingerprint=(model_fingerprint(fusion)
                                                               if fusion is not None
                                                               else source_fingerprint))
    return result


def save_segmenter(
    model: ScaledSegmenter, cfg: SegmenterConfig, history: list, path: str | Path,
    fusion_fingerprint: str | None = None,
) -> Path:
    state = {'kind': 'segmenter', 'segmenter': model.model.state_dict(), 'config': asdict(cfg),
             'history': history, 'fusion_fingerprint': fusion_fingerprint}
    if getattr(model.model, 'variant', None) == 'pretrained':  # rebuilt from its own architecture
        state['segformer_config'] = model.model.config.to_dict()
    return save_checkpoint(path, state)


def load_segmenter(path: str | Path) -> tuple[ScaledSegmenter, SegmenterConfig]:
    ckpt = load_checkpoint(path)
    if ckpt.get('kind') != 'segmenter':
        raise CheckpointError(
            f'{path} is not a segmenter checkpoint (write one with ssvif_train_segmenter)'
        )
    cfg = SegmenterConfig(**ckpt['config'])
    if ckpt.get('segformer_config'):
        from training.models.pretrained_segformer import wrap_segformer
        from transformers import SegformerConfig, SegformerForSemanticSegmentation

        hf_cfg = SegformerConfig.from_dict(ckpt['segformer_config'])
        model = wrap_segformer(SegformerForSemanticSegmentation(hf_cfg))
    else:
        model = build_segmenter_net(cfg.variant, cfg.num_classes, width=cfg.width)
    model.load_state_dict(ckpt['segmenter'])
    return ScaledSegmenter(model, cfg.scale).eval(), cfg


def config_from_sets(sets, data_kind: str = 'fmb') -> SegmenterConfig:
    """
    Build a SegmenterConfig from ``KEY=VALUE`` strings (values parsed as YAML).

    msrs data uses its class set.
    """
    from training.config import coerce_number, ConfigError
    import yaml

    fields = SegmenterConfig.__dataclass_fields__
    values = {}
    for item in sets:
        key, sep, val = str(item).partition('=')
        if not sep or key not in fields:
            raise ValueError(
                f'--set {item!r}: expected KEY=VALUE with KEY one of {", ".join(fields)}'
            )
        try:
            values[key] = coerce_number(yaml.safe_load(val), fields[key].default, key)
        except (ConfigError, yaml.YAMLError) as exc:
            raise ValueError(f'--set {item!r}: {exc}') from None
    if data_kind == 'msrs':
        values.setdefault('class_set', 'msrs')
    return SegmenterConfig(**values)


def main(argv: list[str] | None = None) -> int:
    """ssvif_train_segmenter: the mask segmenter on fused images of a labelled set."""
    import argparse

    from ros2_ssvif.cli import run_command
    from torch.utils.data import Subset
    from training.checkpoint import load_fusion_model
    from training.data.pairs import LabelledPairs, split_pairs

    ap = argparse.ArgumentParser(prog='ssvif_train_segmenter', description=main.__doc__)
    ap.add_argument(
        '--fusion', required=True, help='fusion checkpoint from ssvif_train (frozen here)'
    )
    ap.add_argument('--data-root', required=True)
    ap.add_argument('--data-kind', default='fmb', choices=('fmb', 'msrs', 'synthetic_folder'))
    ap.add_argument('--output', required=True, help='segmenter checkpoint to write')
    ap.add_argument(
        '--set',
        action='append',
        default=[],
        metavar='KEY=VALUE',
        help='override a SegmenterConfig field '
        f'({", ".join(SegmenterConfig.__dataclass_fields__)})',
    )
    ap.add_argument('--no-progress', action='store_true')
    args = ap.parse_args(argv)

    def run() -> int:
        if Path(args.output).is_dir():  # before training, not at the final save
            raise ValueError(f'--output {args.output} is a folder: give the checkpoint file to '
                             'write (e.g. seg.pt)')
        cfg = config_from_sets(args.set, args.data_kind)
        fusion, _ = load_fusion_model(args.fusion)
        data = LabelledPairs.from_layout(args.data_kind, args.data_root, 'train')
        tr, va = split_pairs(list(range(len(data))), 0.1, seed=cfg.seed)
        res = train_segmenter(fusion, Subset(data, tr), Subset(data, va), cfg, args.output,
                              progress=not args.no_progress)
        print(f'ssvif_train_segmenter: wrote {res.checkpoint} '
              f'(best validation mIoU {res.best_miou:.3f}, {len(res.history)} epochs)')
        return 0

    return run_command('ssvif_train_segmenter', run, errors=(TypeError, FloatingPointError),
                       plain=True)


if __name__ == '__main__':
    raise SystemExit(main())
