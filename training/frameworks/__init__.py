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
Training frameworks: what is trained, with which losses, in which stages.

The trainer (``training.trainer``) owns everything a framework should not
have to repeat: data loading and the per-epoch reseeding, data parallelism,
the NaN/inf check, the loss-weighting strategy, per-task gradients and the
gradient analysis, optimizer steps, checkpoints and bit-exact resume,
logging, validation bookkeeping and early stopping. A framework says the rest.
Frameworks, backbones (``model.backbone``) and weighting strategies
(``weighting.name``) are independent config choices.

How to add a framework
----------------------
1. Create a module in this package (any name; every module here is imported
   when the registry is first read, so nothing else has to be edited) with
   a subclass of :class:`Framework` decorated with
   ``@register_framework("my_name")``. ``framework: my_name`` in a config
   (or ``--set framework=my_name``) then selects it; its options come from
   the free-form ``framework_options`` mapping and reach ``__init__`` as
   keyword arguments (reject unknown ones: a ``TypeError`` becomes a
   ConfigError naming the key).
2. Class attributes: ``needs_labels`` (True: batches carry ``label``
   (B,H,W) int64, 255 = ignore, and the data come from a labelled layout;
   False: a ``label`` key is refused, SSVIF's guarantee).
3. Override what differs from the defaults (see each method's docstring):

   * ``check_config(cfg)`` (classmethod): raise ``ConfigError`` for a
     config this framework cannot train (called by ``TrainConfig.validate``).
   * ``build_modules()`` -> ``{"fusion": net, ...}``. ``"fusion"`` is the
     network that is deployed: ``net(visible, thermal)`` returns a
     ``FusionOutput`` and is rebuilt from the config alone by
     ``training.checkpoint.load_fusion_model`` (so it must be what
     ``fusion_model_from_config(cfg.model)`` builds). Other entries are
     training-only (``None`` allowed: kept as ``None`` in checkpoints).
   * ``tasks(stage)``: task names whose losses the weighting strategy
     combines, primary first (``("fusion", "csc")`` for SSVIF Stage II).
   * ``optimizer_params(modules, stage)`` -> ``{name: [params]}`` of the
     optimizers that exist by ``stage``. The trainer creates each one (Adam
     with ``cfg.optim``; ``optimizer_lr(name)`` may override the rate) the
     first time it appears, so moments start at zero when a part starts
     training; learnable weighting parameters (UCW) join the one named
     ``"fusion"``. ``weighting_tasks`` (class attribute) lists every task
     the weighting strategy may see, primary first.
   * ``initial_stage()``, ``next_stage(history, stage)`` (called after every
     epoch with the epoch history; return the stage of the next epoch; a
     change resets the best checkpoint and early stopping),
     ``best_from_stage()`` (first stage whose epochs may become best.pt).
   * ``step_losses(batch, ctx)`` -> :class:`StepResult`: the unweighted
     task losses of one step, every scalar term to check and log (terms
     named ``"fusion.int"`` are logged as ``loss_int``, others as
     ``loss_<task>_<term>``), and which optimizers step. One loss: it is
     the total; two or more: the weighting strategy combines them, unless
     ``StepResult.weights`` gives the method's own multipliers.
   * ``train_step(batch, ctx)``: the default is
     ``ctx.apply(self.step_losses(batch, ctx))`` (check, weight, backward,
     step, and return the logged record). Override it for steps that are
     not one backward of one weighted sum (bi-level updates, several
     optimizer steps per batch): use ``ctx.modules``, ``ctx.optimizers``,
     ``ctx.check_finite(terms)`` and ``ctx.apply`` as needed and return a
     dict of floats to log (include ``L_total`` and ``L_<task>``).
   * ``validation_losses(batch, ctx)`` -> ``{"fusion": tensor, ...}``
     (under ``no_grad``), logged as ``val_L_<task>``.
   * ``selection_value(means)``: what early stopping and best.pt minimise,
     from the epoch's ``val_L_*``/``train_L_*`` means (default the
     ``fusion`` entry), named ``selection_name`` in the history.
   * ``shared_parameters(modules)``: parameters over which per-task
     gradients are measured (GDWA's norms, the gradient analysis); default
     the fusion network's.
   * ``weighting_losses(epoch_means, stage)``: the epoch means the
     weighting strategy records in its history (default ``train_L_<task>``
     of the stage's tasks; SegMiF: fusion-phase steps only).
   * ``state_dict()`` / ``load_state_dict()`` for any state of its own
     (saved under ``"framework"`` in checkpoints).

Built in: ``ssvif`` (SSVIF, two stages, L_csc), ``original`` (SSVIF's
fusion loss only: the stand-in of earlier ablations), ``multitaskvif``
(MultiTaskVIF's multi-task head, supervised), ``segmif`` (SegMiF,
alternating fusion/segmentation rounds, supervised), and the Table III
Exp. i "Original" trainings ``original_swinfusion``, ``original_emma``,
``original_seafusion``.
"""
from __future__ import annotations

from training.frameworks.base import (
    available_frameworks,
    build_framework,
    Framework,
    framework_class,
    register_framework,
    StepContext,
    StepResult,
)


__all__ = [
    'Framework',
    'StepContext',
    'StepResult',
    'available_frameworks',
    'build_framework',
    'framework_class',
    'register_framework',
]
