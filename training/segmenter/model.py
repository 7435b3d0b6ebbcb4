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
The segmenter itself: its config, network, scale wrapper, loss and checkpoint.

What the training (:mod:`training.segmenter.train`), the export and the
evaluation protocol share; see :mod:`training.segmenter` for why a
segmenter is trained at all.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ros2_ssvif.classes import CLASS_SETS
import torch
import torch.nn.functional as F
from training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from training.labels import is_object_class, label_sets
from training.losses.segmentation import partial_label_ce
from training.models.segformer import SegmentationModel


__all__ = ['ScaledSegmenter', 'SegmenterConfig', 'SegmenterLoss', 'build_segmenter_net',
           'config_from_sets', 'load_segmenter', 'save_segmenter', 'set_decision',
           'set_encoder_trainable']


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
    # what the segmenter sees: 3 = the fused image (RGB); 4 = the fused image and the
    # registered thermal image beside it (compact / context variants)
    in_channels: int = 3
    # the operating point of the published mask: logit offsets by class name added before its
    # argmax ({person: 0.5} paints more person). The loss never sees them, so they are chosen
    # after training, on pairs the segmenter did not train on (default_segmenter.yaml)
    class_bias: dict | None = None
    # average the logits of the image and of its mirror image before the argmax (the published
    # mask only; one more segmenter pass, batched with the first)
    flip_average: bool = False

    @property
    def num_classes(self) -> int:
        return len(CLASS_SETS[self.class_set][0])

    def bias_vector(self) -> torch.Tensor | None:
        """``class_bias`` as a (num_classes,) tensor, None without one; unknown names raise."""
        return class_bias_vector(self.class_bias, CLASS_SETS[self.class_set][0])


#: a bias this large overrules any trained logit gap: a typo (50 for 0.50), not an operating point
MAX_CLASS_BIAS = 10.0


def class_bias_vector(bias: dict | None, names) -> torch.Tensor | None:
    """Return the logit offsets of ``bias`` ({class name: offset}) in ``names`` order."""
    if not bias:
        return None
    from training.config import ConfigError

    if not isinstance(bias, dict):
        raise ConfigError(f'segmenter.class_bias must map class names to numbers, got {bias!r}')
    vec = torch.zeros(len(names))
    for name, value in bias.items():
        if name not in names:
            raise ConfigError(f'segmenter.class_bias: unknown class {name!r}; '
                              f'classes: {", ".join(names)}')
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not abs(float(value)) <= MAX_CLASS_BIAS:
            raise ConfigError(f'segmenter.class_bias.{name} must be a number in '
                              f'[-{MAX_CLASS_BIAS:g}, {MAX_CLASS_BIAS:g}], got {value!r}')
        vec[list(names).index(name)] = float(value)
    return vec


class ScaledSegmenter(torch.nn.Module):
    """
    Runs a segmenter on a resized image and returns logits at full size.

    Training and the exported graph use the same module, so the segmenter
    is trained at exactly the scale it runs at. ``class_bias`` (num_classes,)
    shifts the logits before the argmax of :meth:`class_ids`, and
    ``flip_average`` averages them with the mirrored image's there: the
    logits of ``forward`` (the loss) stay as trained.
    """

    def __init__(self, model: torch.nn.Module, scale: float = 1.0,
                 class_bias: torch.Tensor | None = None, flip_average: bool = False):
        super().__init__()
        if not 0.0 < scale <= 1.0:
            raise ValueError(f'segmenter scale must be in (0, 1], got {scale}')
        self.model = model
        self.scale = float(scale)
        self.num_classes = model.num_classes
        self.set_class_bias(class_bias)
        self.flip_average = bool(flip_average)

    def set_class_bias(self, class_bias: torch.Tensor | None) -> None:
        """Set the (num_classes,) logit offsets of :meth:`decide` (None: the plain argmax)."""
        if class_bias is not None and tuple(class_bias.shape) != (self.num_classes,):
            raise ValueError(f'class_bias has shape {tuple(class_bias.shape)}, '
                             f'expected ({self.num_classes},)')
        self.class_bias = None if class_bias is None else class_bias.float().view(1, -1, 1, 1)

    def decide(self, logits: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
        """Class ids of (B, C, H, W) logits: their argmax after ``class_bias``."""
        if self.class_bias is not None:
            logits = logits + self.class_bias.to(logits)
        return logits.argmax(1, keepdim=keepdim)

    def decision_logits(self, image: torch.Tensor) -> torch.Tensor:
        """
        Logits the published ids are decided on, at the size ``image`` has.

        With ``flip_average``, the mean of the logits of the image and of its
        mirror (mirrored back): a segmenter has no reason to prefer left or
        right, so the mean cancels part of its noise. Both run as one batch of
        two, which a GPU serves at nearly the cost of one.
        """
        if not self.flip_average:
            return self.model(image)
        both = self.model(torch.cat([image, image.flip(-1)], dim=0))
        n = image.shape[0]
        return 0.5 * (both[:n] + both[n:].flip(-1))

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
            return self.decide(self.decision_logits(image))
        h, w = image.shape[-2:]
        small = F.interpolate(image, scale_factor=self.scale, mode='bilinear', align_corners=False,
                              antialias=False, recompute_scale_factor=False)
        ids = self.decide(self.decision_logits(small), keepdim=True).to(image.dtype)
        return F.interpolate(ids, size=(h, w), mode='nearest')[:, 0].long()


def set_decision(seg: ScaledSegmenter, cfg: SegmenterConfig, class_bias: dict | None = None,
                 flip_average: bool | None = None) -> None:
    """Merge ``class_bias`` into ``cfg``'s, set ``flip_average`` if given; apply both."""
    if class_bias:
        cfg.class_bias = {**(cfg.class_bias or {}), **class_bias}
    if flip_average is not None:
        cfg.flip_average = bool(flip_average)
    seg.set_class_bias(cfg.bias_vector())
    seg.flip_average = cfg.flip_average


class SegmenterLoss:
    """
    Cross-entropy on class ids and on set labels (``training.labels.label_sets``).

    ``object_weight`` scales the pixels labelled with a box-group class
    (person, car, bicycle, ...): they are a few percent of a road scene's
    pixels and the ones a vehicle most needs.
    """

    def __init__(self, cfg: SegmenterConfig):
        names = CLASS_SETS[cfg.class_set][0]
        self.any_of = {v: torch.tensor(m) for v, m in label_sets(cfg.class_set).items()}
        self.weights = None
        if cfg.object_weight != 1.0:
            self.weights = torch.tensor([cfg.object_weight if is_object_class(n) else 1.0
                                         for n in names])

    def __call__(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return partial_label_ce(logits, label, self.any_of, weights=self.weights)


def build_segmenter_net(variant: str, num_classes: int, init_checkpoint: str | None = None,
                        width: int = 24, in_channels: int = 3) -> torch.nn.Module:
    """
    Build a SegFormer, the compact CNN or a user's checkpoint.

    SegFormer: 'b3', 'b0', 'tiny'; the CNNs: 'compact', 'context'. ``in_channels``
    4 (the CNNs only): the fused image and the thermal image side by side.
    """
    if in_channels != 3 and variant not in ('compact', 'context'):
        raise ValueError(f'in_channels {in_channels} needs variant compact or context, '
                         f'not {variant!r}')
    if init_checkpoint:
        from training.models.pretrained_segformer import load_pretrained_segformer

        return load_pretrained_segformer(init_checkpoint, num_classes)
    if variant == 'compact':
        from training.models.compact_segmenter import CompactSegmenter

        return CompactSegmenter(num_classes, width=int(width), in_channels=int(in_channels))
    if variant == 'context':
        from training.models.compact_segmenter import ContextSegmenter

        return ContextSegmenter(num_classes, width=int(width), in_channels=int(in_channels))
    return SegmentationModel(variant, num_classes)


def set_encoder_trainable(model: ScaledSegmenter, trainable: bool) -> None:
    """Freeze (or thaw) the encoder of a segmenter (the paper's first ``freeze_epochs``)."""
    net = model.model
    if isinstance(net, SegmentationModel):
        encoder = net.segformer.segformer
    elif hasattr(net, 'encoder_modules'):
        encoder = torch.nn.ModuleList(net.encoder_modules())
    else:
        encoder = net.enc
    for p in encoder.parameters():
        p.requires_grad_(trainable)


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
        model = build_segmenter_net(cfg.variant, cfg.num_classes, width=cfg.width,
                                    in_channels=cfg.in_channels)
    model.load_state_dict(ckpt['segmenter'])
    return ScaledSegmenter(model, cfg.scale, cfg.bias_vector(), cfg.flip_average).eval(), cfg


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
