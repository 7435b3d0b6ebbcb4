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
Configuration of CAF's loss search (``ssvif_search_loss``), loaded from YAML.

A separate dataclass tree from ``training.config.TrainConfig`` because the
search trains three things SSVIF does not (the fusion network on a
beta-weighted loss, a perception task network on labels, and beta itself)
and then hands a *training* config to the ordinary trainer for the
retraining. ``data`` and ``model`` reuse the trainer's ``DataConfig`` and
``ModelConfig`` (and their validation), so a dataset or a backbone is
named the same way everywhere. Unknown keys fail with the dotted key named;
``--set a.b=value`` overrides work as for ``ssvif_train``; ``inherit`` is
not supported (one file describes one search).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from training.caf.space import FIXED_DEFAULT, SCALES_DEFAULT, SEARCHED_DEFAULT, TERMS
from training.config import (
    apply_overrides,
    build_config,
    config_from_dict,
    ConfigError,
    DataConfig,
    ModelConfig,
)
import yaml


__all__ = [
    'SpaceConfig',
    'TaskConfig',
    'SearchConfig',
    'RetrainConfig',
    'CAFConfig',
    'load_caf_config',
    'caf_config_from_dict',
    'TASK_MODELS',
    'VIRTUAL_STEPS',
]

TASK_MODELS = ('compact', 'tiny', 'b0', 'b3')
VIRTUAL_STEPS = ('optimizer', 'plain')


@dataclass
class SpaceConfig:
    searched: list = field(default_factory=lambda: list(SEARCHED_DEFAULT))  # terms beta weights
    fixed: dict = field(default_factory=lambda: dict(FIXED_DEFAULT))        # term -> fixed weight
    scales: dict = field(default_factory=lambda: dict(SCALES_DEFAULT))      # term -> extra factor
    perceptual_weights: str | None = None   # VGG-16 state dict file (needed by per_ir / per_vis)


@dataclass
class TaskConfig:
    model: str = 'compact'      # compact (CPU CNN) | tiny | b0 | b3 (SegFormer, paper)
    width: int = 16             # compact only
    num_classes: int = 15       # FMB classes (synthetic drives use the FMB ids)
    lr: float = 1.0e-3          # Adam for the task network (Algorithm 1 line 3)
    init: str | None = None     # T's starting weights (state dict file; relative to the YAML)


@dataclass
class SearchConfig:
    lr: float = 5.0e-2          # Adam on beta's logits (paper 4.1)
    lr_decay: float = 0.998     # step decay per beta step (paper 4.1)
    fusion_lr: float = 1.0e-3   # SGD on the fusion net during the search; also eta of Eq. 2
    fusion_momentum: float = 0.9
    fusion_weight_decay: float = 3.0e-4  # SGD on F; also in the virtual step (DARTS' value)
    virtual_step: str = 'optimizer'  # optimizer: w - eta (mu m + g + wd w); plain: w - eta g
    warmup_steps: int = 0       # first steps train T and F only, beta frozen (0: Algorithm 1)
    fd_radius: float = 1.0e-2   # d = radius / ||v|| in Eq. 3
    epochs: int = 10            # paper 4.1
    max_steps_per_epoch: int | None = None
    check_every: int = 1        # re-measure the outer loss after each beta step (0: never)
    seed: int = 0


@dataclass
class RetrainConfig:
    config: str | None = None   # ssvif_train YAML for the retraining (relative to this file)
    overrides: list = field(default_factory=list)


@dataclass
class CAFConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    output_dir: str = 'out/caf'
    device: str = 'cpu'
    log_every: int = 1
    base_dir: str = '.'         # folder of the YAML file (set by the loader)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> 'CAFConfig':
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        config_from_dict(
            {'data': dataclasses.asdict(self.data), 'model': dataclasses.asdict(self.model)}
        )
        s, t, o = self.space, self.task, self.search
        unknown = sorted((set(s.searched) | set(s.fixed) | set(s.scales)) - set(TERMS))
        need(
            not unknown,
            f'space: unknown loss term(s) {", ".join(unknown)}; known: {", ".join(TERMS)}',
        )
        need(len(s.searched) >= 1, 'space.searched needs at least one term')
        per = [x for x in (*s.searched, *s.fixed) if x.startswith('per_')]
        need(
            not per or s.perceptual_weights,
            f'space: {", ".join(per)} need VGG-16 weights: set space.perceptual_weights to a file',
        )
        need(t.model in TASK_MODELS, f'task.model must be one of {TASK_MODELS}, got {t.model!r}')
        need(int(t.num_classes) >= 2, f'task.num_classes must be >= 2, got {t.num_classes}')
        for key in ('lr', 'fusion_lr', 'fd_radius'):
            need(float(getattr(o, key)) > 0, f'search.{key} must be > 0, got {getattr(o, key)}')
        need(0 < float(o.lr_decay) <= 1, f'search.lr_decay must be in (0, 1], got {o.lr_decay}')
        need(int(o.epochs) >= 1, f'search.epochs must be >= 1, got {o.epochs}')
        need(o.virtual_step in VIRTUAL_STEPS,
             f'search.virtual_step must be one of {VIRTUAL_STEPS}, got {o.virtual_step!r}')
        need(0 <= float(o.fusion_momentum) < 1,
             f'search.fusion_momentum must be in [0, 1), got {o.fusion_momentum}')
        need(float(o.fusion_weight_decay) >= 0,
             f'search.fusion_weight_decay must be >= 0, got {o.fusion_weight_decay}')
        need(int(o.warmup_steps) >= 0, f'search.warmup_steps must be >= 0, got {o.warmup_steps}')
        need(o.max_steps_per_epoch is None or int(o.max_steps_per_epoch) >= 1,
             'search.max_steps_per_epoch must be null or >= 1')
        need(int(o.check_every) >= 0, 'search.check_every must be >= 0')
        need(self.data.kind != 'pairs', 'the loss search needs labels: data.kind pairs has none '
                                        '(use synthetic_folder, fmb or msrs)')
        return self


_SECTIONS = {'data': DataConfig, 'model': ModelConfig, 'space': SpaceConfig, 'task': TaskConfig,
             'search': SearchConfig, 'retrain': RetrainConfig}


def caf_config_from_dict(values: Mapping[str, Any]) -> CAFConfig:
    return build_config(CAFConfig, dict(values), '', _SECTIONS).validate()


def load_caf_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> CAFConfig:
    """YAML file + dotted overrides -> validated CAFConfig (``base_dir`` = the file's folder)."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        except FileNotFoundError:
            raise ConfigError(f'config file not found: {path}') from None
        except yaml.YAMLError as e:
            raise ConfigError(f'{path}: not valid YAML ({str(e).splitlines()[0]})') from None
        if not isinstance(values, Mapping):
            raise ConfigError(f'{path}: top level must be a mapping')
        values = dict(values)
        values.setdefault('base_dir', str(path.parent))
    return caf_config_from_dict(apply_overrides(values, overrides))
