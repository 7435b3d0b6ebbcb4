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
The Framework base class, the step types and the registration (see the package docstring).

Frameworks register in :data:`training.registry.FRAMEWORKS`, which imports
every module of this package when first read: a new framework is one new
file, with no central list to edit, so frameworks written in parallel never
touch the same file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

from ros2_ssvif.errors import ConfigError
import torch
from torch import nn, Tensor
from training.registry import FRAMEWORKS


__all__ = ['Framework', 'StepContext', 'StepResult', 'available_frameworks', 'build_framework',
           'framework_class', 'register_framework']


@dataclass
class StepResult:
    """
    What one training step produced, before weighting.

    ``losses``: task -> unweighted scalar loss entering L_total (one entry:
    it is the total; several: the weighting strategy combines them).
    ``terms``: ordered scalars checked for NaN/inf (the first bad one is
    named) and logged. ``optimizers``: names of the optimizers that step.
    ``shared``: parameters for per-task gradients (None: the framework's
    ``shared_parameters``). ``weights``: the method's own multipliers
    (e.g. SeAFusion's round-dependent beta); given, they replace the
    configured weighting strategy for this step.
    """

    losses: dict[str, Tensor]
    terms: dict[str, Tensor]
    optimizers: tuple[str, ...] = ('fusion',)
    shared: Sequence[nn.Parameter] | None = None
    weights: Mapping[str, float] | None = None


@dataclass
class StepContext:
    """What the trainer lends a framework for one step or one validation batch."""

    modules: Mapping[str, nn.Module | None]
    optimizers: Mapping[str, torch.optim.Optimizer]
    device: torch.device
    stage: int
    global_step: int
    epoch: int                                  # completed epochs
    apply: Callable[[StepResult], dict[str, float]] = None  # check, weight, backward, step
    check_finite: Callable[[Mapping[str, Tensor]], None] = None
    extra: dict = field(default_factory=dict)


class Framework:
    """Defaults describe a one-stage, label-free run of the fusion network with one optimizer."""

    name: ClassVar[str] = ''
    needs_labels: ClassVar[bool] = False
    #: every task the weighting strategy may see, primary first (it is built once, for these)
    weighting_tasks: ClassVar[tuple[str, ...]] = ('fusion',)

    def __init__(self, cfg, **options: Any) -> None:
        if options:
            raise TypeError(
                f'framework {self.name!r} takes no option(s) {", ".join(sorted(options))}'
            )
        self.cfg = cfg

    # -- configuration ------------------------------------------------------
    @classmethod
    def check_config(cls, cfg) -> None:
        """Raise ``training.config.ConfigError`` for a config this framework cannot train."""

    @classmethod
    def validate(cls, cfg) -> None:
        """
        Check ``cfg`` for this framework: its own rules and its options (ConfigError).

        :meth:`training.config.TrainConfig.validate` calls it through the
        registry; it builds no modules (``__init__`` only reads the config).
        """
        cls.check_config(cfg)
        if not isinstance(cfg.framework_options, Mapping):
            raise ConfigError('framework_options must be a mapping')
        try:
            cls(cfg, **dict(cfg.framework_options))
        except TypeError as exc:
            raise ConfigError(f'framework_options: {exc}') from None

    # -- modules and optimizers -------------------------------------------
    def build_modules(self) -> dict[str, nn.Module | None]:
        from training.models import fusion_model_from_config

        return {'fusion': fusion_model_from_config(self.cfg.model)}

    def tasks(self, stage: int) -> tuple[str, ...]:
        return ('fusion',)

    def optimizer_params(self, modules: Mapping[str, nn.Module | None],
                         stage: int) -> dict[str, list[nn.Parameter]]:
        return {'fusion': list(modules['fusion'].parameters())}

    def optimizer_lr(self, name: str) -> float | None:
        """Learning rate of optimizer ``name``; None: ``cfg.optim.lr``."""
        return None

    def shared_parameters(self, modules: Mapping[str, nn.Module | None]) -> list[nn.Parameter]:
        return list(modules['fusion'].parameters())

    def weighting_losses(self, epoch_means: Mapping[str, float], stage: int) -> dict[str, float]:
        """
        Return the epoch means the weighting strategy records (``epoch_end``), by task.

        Default: ``train_L_<task>`` of every task of ``stage`` that the epoch
        logged. A framework whose logged task loss mixes other updates in
        (SegMiF's segmentation phase) hands over the part its strategy means.
        """
        return {t: epoch_means[f'train_L_{t}'] for t in self.tasks(stage)
                if f'train_L_{t}' in epoch_means}

    # -- stages --------------------------------------------------------------
    def initial_stage(self) -> int:
        return 1

    def next_stage(self, history: Sequence[Mapping[str, Any]], stage: int) -> int:
        return stage

    def best_from_stage(self) -> int:
        return 1

    # -- steps -----------------------------------------------------------------
    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> dict[str, float]:
        return ctx.apply(self.step_losses(batch, ctx))

    def step_losses(self, batch: Mapping[str, Any], ctx: StepContext) -> StepResult:
        raise NotImplementedError

    def validation_losses(self, batch: Mapping[str, Any], ctx: StepContext) -> dict[str, Tensor]:
        raise NotImplementedError

    # -- early stopping and best checkpoint -----------------------------------
    #: name of :meth:`selection_value` in the history (``best_val_<name>``)
    selection_name: str = 'L_fusion'

    def selection_value(self, means: Mapping[str, float]) -> float | None:
        """
        Return what early stopping and best.pt minimise for the epoch (None: skip the epoch).

        ``means`` are the epoch's ``val_L_<task>`` (the means of
        :meth:`validation_losses`) and ``train_L_<task>``. Default: the
        validation fusion loss, the training one without a validation split.
        """
        return means.get('val_L_fusion', means.get('train_L_fusion'))

    # -- own state -----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


def register_framework(name: str) -> Callable[[type[Framework]], type[Framework]]:
    """Class decorator: register ``cls`` as ``framework: name`` (in :data:`FRAMEWORKS`)."""
    def deco(cls: type[Framework]) -> type[Framework]:
        FRAMEWORKS.register(name, cls)
        cls.name = name
        return cls
    return deco


def available_frameworks() -> list[str]:
    return FRAMEWORKS.names()


def framework_class(name: str) -> type[Framework]:
    """Return the class registered as ``name``; KeyError listing the known names otherwise."""
    return FRAMEWORKS.lookup(name)


def build_framework(cfg) -> Framework:
    """Return the framework ``cfg.framework`` with ``cfg.framework_options``."""
    return framework_class(cfg.framework)(cfg, **dict(cfg.framework_options or {}))
