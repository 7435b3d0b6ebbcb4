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
CAF's hierarchical training, step 1: the fusion network on the searched loss (seed paper 002).

After the loss search (``ssvif_search_loss``, ``training.caf.search``)
has found beta, CAF solves its coupled objective stage-wise (Sec. 3.4):
first the fusion network alone on L^f = sum_i beta_i L_i, label-free,
then the perception network on the fused images (here:
``ssvif_train_segmenter`` on a checkpoint of this run). Training the two
separately "circumvents the potential negative influence of task loss on
the fusion network parameters" and needs no labels for the fusion step.

Options: ``loss_file``, the ``beta.yaml`` a search wrote, or ``loss``, its
content inline (what ``ssvif_search_loss`` passes, so a checkpoint carries
its loss and loads without the file). The terms, their beta, the fixed
terms and scales all come from there, so the retraining uses exactly the
loss that was searched.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from training.frameworks.base import Framework, register_framework, StepContext, StepResult


__all__ = ['CAFRetrain']


@register_framework('caf')
class CAFRetrain(Framework):
    """Label-free, one stage: F on the searched CAF loss."""

    needs_labels = False

    def __init__(self, cfg, loss_file: str | None = None, loss: Mapping | None = None,
                 **options: Any) -> None:
        super().__init__(cfg, **options)
        from training.caf.build import check_beta_doc, read_beta_file

        if (loss_file is None) == (loss is None):
            raise TypeError('framework caf needs one of framework_options.loss_file (the '
                            'beta.yaml written by ssvif_search_loss) or framework_options.loss '
                            '(its content)')
        try:
            self.doc = read_beta_file(loss_file) if loss is None else check_beta_doc(loss, 'loss')
        except ValueError as exc:
            raise TypeError(str(exc)) from None
        self.base_dir = Path(loss_file).parent if loss is None else Path('.')
        self.beta = torch.tensor(
            [float(v) for v in self.doc['searched'].values()], dtype=torch.float32
        )
        self._space = None

    def space(self, device: torch.device):
        """Return the CAFLossSpace of the loss file (built on first use: it may load VGG-16)."""
        if self._space is None:
            from training.caf.build import build_space

            self._space = build_space({'searched': list(self.doc['searched']),
                                       'fixed': self.doc.get('fixed') or {},
                                       'scales': self.doc.get('scales') or {},
                                       'perceptual_weights': self.doc.get('perceptual_weights')},
                                      self.base_dir).to(device)
        return self._space

    def _loss(self, batch, ctx: StepContext):
        vis, th = batch['visible'], batch['thermal']
        fused = ctx.modules['fusion'](vis, th).fused
        space = self.space(fused.device)
        terms = space.terms(fused, th, vis)
        return space.total(terms, self.beta.to(fused.device)), terms

    def step_losses(self, batch, ctx: StepContext) -> StepResult:
        total, terms = self._loss(batch, ctx)
        logged = {f'fusion.{k}': v for k, v in terms.items()}
        logged['fusion'] = total
        return StepResult({'fusion': total}, logged, ('fusion',))

    def validation_losses(self, batch, ctx: StepContext) -> dict:
        return {'fusion': self._loss(batch, ctx)[0]}
