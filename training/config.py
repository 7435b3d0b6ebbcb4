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
SSVIF training configuration: one dataclass tree, loaded from YAML.

Why a dataclass and not a free dict: every key is known, so a typo in a YAML
file or a ``--set`` override fails at load time with the dotted key named,
instead of silently training the paper default.

Loading (:func:`load_config`):

* ``inherit: other.yaml`` (path relative to the including file) loads the
  parent first and deep-merges this file over it; chains are allowed. The
  ablation files use it so each holds only what differs from ``ssvif.yaml``.
* sections merge key by key; lists, scalars and the free-form mappings
  below replace (a child's ``weighting.options`` belongs to its own
  strategy, so the parent's GDWA options must not leak into ``fixed``).
* ``overrides`` are ``"dotted.key=value"`` strings; ``value`` goes through
  ``yaml.safe_load`` (``3`` -> int, ``null`` -> None, ``[1,2]`` -> list).

Free-form mappings (``model.backbone_kwargs``, ``model.decoder_kwargs``,
``weighting.options``, ``framework_options``, ``data.thermal``) accept any
key: they are handed to the constructor that owns them, which rejects what
it does not know. ``data.augment`` is checked here (its keys and ranges).

``framework``, ``model.backbone`` and ``weighting.name`` are names in the
registries of :mod:`training.registry`, which validation reads (a new part
registers itself, so its name is valid without an edit here; ``ssvif_train
--help`` lists them). This module imports none of the parts: the
framework's own checks run in its builder (``Framework.validate``), reached
through the registry.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ros2_ssvif.errors import ConfigError
from ros2_ssvif.safe_files import FileCheckError, read_text_file
from training.registry import BACKBONES, FRAMEWORKS, WEIGHTINGS
import yaml


__all__ = [
    'ConfigError',
    'DataConfig',
    'ModelConfig',
    'LossConfig',
    'WeightingConfig',
    'OptimConfig',
    'TrainConfig',
    'load_config',
    'apply_overrides',
    'config_from_dict',
    'build_config',
]

DATA_KINDS = ('fmb', 'msrs', 'pairs', 'synthetic_folder')
DECODERS = ('default', 'mth')
VAL_MODES = ('center', 'full')


@dataclass
class DataConfig:
    kind: str = 'fmb'               # fmb | msrs | pairs | synthetic_folder
    root: str | None = None
    split: str = 'train'            # sub-folder for fmb/msrs layouts
    val_fraction: float = 0.1       # paper IV-A: 9:1 train/val split
    seed: int = 0                   # split seed (independent of training seed)
    crop: int = 160                 # paper IV-A: 160x160 random crops
    batch_size: int = 10            # paper IV-A
    workers: int = 0
    val_mode: str = 'center'        # center crops (stackable, fixed) | full images (batch 1)
    val_crop: int | None = None     # center-crop size; None -> crop
    val_batch_size: int | None = None
    max_samples: int | None = None  # truncate the pair list (smoke runs)
    list_file: str | None = None    # keep only the pairs named in this file (relative to root)
    thermal: dict = field(default_factory=dict)  # ros2_ssvif.thermal.ThermalNormalizer kwargs
    # more data sets trained on together with this one: [{kind, root, split?, list_file?}, ...]
    extra_sources: list = field(default_factory=list)
    # training augmentation before the crop (training.data.transforms; {} = none):
    # {scale: [low, high], brightness: delta, brightness_p: p} (SegMiF: [0.5, 2.0], 32/255, 0.5)
    augment: dict = field(default_factory=dict)


@dataclass
class ModelConfig:
    backbone: str = 'swinfusion'  # a name in training.registry.BACKBONES
    in_channels: int = 3  # 3 (SSVIF) | 1 (Table VIII: luma fused, visible chroma carried)
    output: str = 'direct'  # direct (papers) | blend (weight map + residual on the sources)
    refine_width: int = 0           # blend only: full-resolution 3x3 refinement channels (0 = off)
    backbone_kwargs: dict = field(default_factory=dict)
    decoder: str = 'default'        # default (the backbone's image decoder) | mth (MultiTaskVIF)
    decoder_kwargs: dict = field(default_factory=dict)  # MultiTaskHead options (width, hia, heads)
    seg_classes: int = 15           # App. B-A: n = 15 (9 in Table VI)
    segformer: str = 'b3'           # b3 (paper) | b0 | tiny (tests)
    seg_head_hidden: int = 64


@dataclass
class LossConfig:
    lambdas: list = field(default_factory=lambda: [20.0, 20.0, 10.0, 20.0])  # App. B-A
    csc_eps: float = 1.0


@dataclass
class WeightingConfig:
    name: str = 'gdwa'              # a name in training.registry.WEIGHTINGS
    options: dict = field(default_factory=dict)  # e.g. {T: 2.0, norm_every: 1} or {omega_csc: 0.1}


@dataclass
class OptimConfig:
    lr: float = 1e-4                # Adam, paper IV-A
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    weighting: WeightingConfig = field(default_factory=WeightingConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    framework: str = 'ssvif'        # a name in training.registry.FRAMEWORKS
    framework_options: dict = field(default_factory=dict)  # keyword options of the framework
    csc: bool = True                # False: w/o L_csc -> no branches built at all
    two_stage: bool = True          # False: Stage II from epoch 1
    stage1_max_epochs: int | None = None  # force the switch after N Stage-I epochs (demo/CI)
    epochs: int = 110
    early_stopping_patience: int | None = 10  # on validation L_fusion, Stage II only; None: off
    max_steps_per_epoch: int | None = None
    output_dir: str = 'runs/ssvif'
    checkpoint_every: int = 1
    log_every: int = 10
    grid_samples: int = 4
    device: str = 'auto'            # auto | cpu | cuda | cuda:N
    seed: int = 0
    grad_analysis: bool = True      # App. C: alpha_cf, cosine, norms
    grad_analysis_every: int = 1

    # -- derived --------------------------------------------------------
    @property
    def uses_branches(self) -> bool:
        """Segmentation head/model exist only for SSVIF with L_csc (Exp. iii removes them)."""
        return self.framework == 'ssvif' and self.csc

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> 'TrainConfig':
        d, m = self.data, self.model

        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(d.kind in DATA_KINDS, f'data.kind must be one of {DATA_KINDS}, got {d.kind!r}')
        need(
            0.0 <= d.val_fraction < 1.0,
            f'data.val_fraction must be in [0, 1), got {d.val_fraction}',
        )
        need(
            int(d.crop) >= 16,
            f'data.crop must be >= 16 px (SSIM uses an 11x11 window), got {d.crop}',
        )
        need(int(d.batch_size) >= 1, f'data.batch_size must be >= 1, got {d.batch_size}')
        need(isinstance(d.extra_sources, (list, tuple)),
             f'data.extra_sources must be a list of mappings, got {d.extra_sources!r}')
        for i, src in enumerate(d.extra_sources):
            need(isinstance(src, Mapping) and 'root' in src
                 and set(src) <= {'kind', 'root', 'split', 'list_file'},
                 f'data.extra_sources[{i}] must be a mapping with root and optionally kind, '
                 f'split, list_file; got {src!r}')
            need(src.get('kind', 'pairs') in DATA_KINDS,
                 f'data.extra_sources[{i}].kind must be one of {DATA_KINDS}, '
                 f"got {src.get('kind')!r}")
        need(int(d.workers) >= 0, f'data.workers must be >= 0, got {d.workers}')
        _check_augment(d.augment, need)
        need(
            d.val_mode in VAL_MODES,
            f'data.val_mode must be one of {VAL_MODES}, got {d.val_mode!r}',
        )
        need(m.in_channels in (1, 3), f'model.in_channels must be 1 or 3, got {m.in_channels}')
        need(
            m.output in ('direct', 'blend'),
            f'model.output must be direct or blend, got {m.output!r}',
        )
        need(
            int(m.refine_width) >= 0 and (int(m.refine_width) == 0 or m.output == 'blend'),
            f'model.refine_width must be >= 0 and needs model.output: blend, got {m.refine_width}',
        )
        BACKBONES.lookup(m.backbone, 'model.backbone')
        need(m.decoder in DECODERS, f'model.decoder must be one of {DECODERS}, got {m.decoder!r}')
        need(
            m.segformer in ('b3', 'b0', 'tiny'),
            f'model.segformer must be b3, b0 or tiny, got {m.segformer!r}',
        )
        need(int(m.seg_classes) >= 2, f'model.seg_classes must be >= 2, got {m.seg_classes}')
        need(isinstance(self.loss.lambdas, (list, tuple)) and len(self.loss.lambdas) == 4,
             f'loss.lambdas must be 4 numbers (int, grad, ssim, color), got {self.loss.lambdas!r}')
        WEIGHTINGS.lookup(self.weighting.name, 'weighting.name')
        framework = FRAMEWORKS.lookup(self.framework, 'framework')
        need(self.optim.lr > 0, f'optim.lr must be > 0, got {self.optim.lr}')
        need(int(self.epochs) >= 1, f'epochs must be >= 1, got {self.epochs}')
        need(self.stage1_max_epochs is None or int(self.stage1_max_epochs) >= 1,
             f'stage1_max_epochs must be null or >= 1, got {self.stage1_max_epochs}')
        need(self.early_stopping_patience is None or int(self.early_stopping_patience) >= 1,
             f'early_stopping_patience must be null or >= 1, got {self.early_stopping_patience}')
        need(self.max_steps_per_epoch is None or int(self.max_steps_per_epoch) >= 1,
             f'max_steps_per_epoch must be null or >= 1, got {self.max_steps_per_epoch}')
        need(int(self.checkpoint_every) >= 1, 'checkpoint_every must be >= 1')
        need(int(self.log_every) >= 1, 'log_every must be >= 1')
        need(int(self.grad_analysis_every) >= 1, 'grad_analysis_every must be >= 1')
        need(int(self.grid_samples) >= 0, 'grid_samples must be >= 0')
        framework.validate(self)  # the framework's own rules and options, in its builder
        return self


def _check_augment(aug: Any, need) -> None:
    """``data.augment``: keys scale, brightness, brightness_p with their ranges."""
    need(isinstance(aug, Mapping), f'data.augment must be a mapping, got {aug!r}')
    unknown = sorted(set(aug) - {'scale', 'brightness', 'brightness_p'})
    need(not unknown, f'data.augment: unknown key(s) {unknown}; known: scale, brightness, '
         'brightness_p')
    scale = aug.get('scale')
    if scale is not None:
        ok = isinstance(scale, (list, tuple)) and len(scale) == 2
        need(ok and all(isinstance(x, (int, float)) for x in scale) and 0 < scale[0] <= scale[1],
             f'data.augment.scale must be [low, high] with 0 < low <= high, got {scale!r}')
    for key in ('brightness', 'brightness_p'):
        v = aug.get(key, 0.0)
        need(isinstance(v, (int, float)) and 0 <= v <= 1,
             f'data.augment.{key} must be a number in [0, 1], got {v!r}')


_SECTIONS = {'data': DataConfig, 'model': ModelConfig, 'loss': LossConfig,
             'weighting': WeightingConfig, 'optim': OptimConfig}


def build_config(cls, values: Mapping[str, Any], prefix: str = '',
                 sections: Mapping[str, type] | None = None):
    """
    Build dataclass ``cls`` from a mapping; unknown keys are a ConfigError naming them.

    ``sections``: the fields of ``cls`` that are dataclasses themselves,
    built in turn. A number written as a string (YAML 1.1) is converted.
    Used by :class:`TrainConfig` and CAF's config.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(
            f'{prefix.rstrip(".") or "config"} must be a mapping, got {type(values).__name__}'
        )
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f'unknown config key(s) {", ".join(prefix + k for k in unknown)}; '
            f'known under {prefix.rstrip(".") or "top level"}: {", ".join(sorted(known))}'
        )
    kwargs = {}
    for k, v in values.items():
        if sections and k in sections:
            kwargs[k] = build_config(sections[k], v or {}, f'{k}.')
        elif isinstance(getattr(cls(), k), dict) and not isinstance(v, Mapping):
            raise ConfigError(f'{prefix}{k} must be a mapping, got {v!r}')
        else:
            kwargs[k] = coerce_number(v, getattr(cls(), k), prefix + k)
    return cls(**kwargs)


def coerce_number(value: Any, default: Any, key: str) -> Any:
    """YAML 1.1 (PyYAML) reads ``2e-3`` as a string; accept it where a number is expected."""
    if (
        isinstance(value, str)
        and isinstance(default, (int, float))
        and not isinstance(default, bool)
    ):
        try:
            return (
                float(value)
                if isinstance(default, float) or not value.strip().lstrip('+-').isdigit()
                else int(value)
            )
        except ValueError:
            raise ConfigError(f'{key} must be a number, got {value!r}') from None
    return value


def config_from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Build and validate a TrainConfig; unknown keys raise ConfigError naming them."""
    values = {k: v for k, v in dict(values).items() if k != 'inherit'}
    return build_config(TrainConfig, values, '', _SECTIONS).validate()


_REPLACE_ON_MERGE = {'model.backbone_kwargs', 'model.decoder_kwargs', 'weighting.options',
                     'framework_options', 'data.thermal', 'data.augment'}


def _deep_merge(base: dict, over: Mapping, prefix: str = '') -> dict:
    out = dict(base)
    for k, v in over.items():
        if (isinstance(v, Mapping) and isinstance(out.get(k), Mapping)
                and prefix + k not in _REPLACE_ON_MERGE):
            out[k] = _deep_merge(dict(out[k]), v, f'{prefix}{k}.')
        else:
            out[k] = v
    return out


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = Path(path)
    if path.resolve() in seen:
        raise ConfigError(f'inherit cycle through {path}')
    try:
        data = yaml.safe_load(read_text_file(path, 'config file'))
    except FileCheckError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as e:
        raise ConfigError(f'{path}: not valid YAML ({str(e).splitlines()[0]})') from None
    data = data or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f'{path}: top level must be a mapping')
    parent = data.pop('inherit', None)
    if parent is None:
        return dict(data)
    base = _read_yaml(path.parent / str(parent), seen + (path.resolve(),))
    return _deep_merge(base, data)


def apply_overrides(values: dict, overrides: list[str] | tuple[str, ...] | None) -> dict:
    """Apply ``"a.b=value"`` strings (value parsed by yaml.safe_load) to a nested dict."""
    out = _deep_merge({}, values)
    for item in overrides or ():
        key, sep, raw = str(item).partition('=')
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f'override {item!r} must look like key.sub=value')
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f'override {item!r}: value is not valid YAML') from None
        node = out
        parts = key.split('.')
        for p in parts[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            elif not isinstance(nxt, dict):
                raise ConfigError(f'override {item!r}: {p!r} is not a section')
            node = nxt
        node[parts[-1]] = value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """
    YAML file (with ``inherit``) + dotted overrides -> validated TrainConfig.

    ``path=None`` starts from the dataclass defaults (the paper's settings).
    """
    values = _read_yaml(Path(path)) if path is not None else {}
    return config_from_dict(apply_overrides(values, overrides))
