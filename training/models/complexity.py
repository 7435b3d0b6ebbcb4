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
Model size and compute: parameters and multiply-accumulates (MACs).

MACs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (part of
torch, counts convolutions, linear layers and attention matmuls at the aten
level, so hand-written window attention is included). thop and fvcore are
not used: thop is unmaintained and misses functional matmuls, fvcore pulls
in a heavy dependency tree. MACs = FLOPs / 2. By default the count runs on
the ``meta`` device: shapes only, no arithmetic, so a 640x480 SwinFusion
count takes well under a second on a laptop CPU.
"""
from __future__ import annotations

from collections.abc import Sequence
import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


__all__ = ['count_macs', 'count_parameters']


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """
    Count the parameter elements.

    Buffers such as BN statistics are not parameters.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(
    model: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor], meta: bool = True
) -> int:
    """
    Count the MACs of one ``model(*inputs)`` forward in eval mode.

    ``meta=True`` copies the model and inputs to the meta device first (the
    original model is untouched); pass ``meta=False`` for models with ops
    that have no meta kernel.
    """
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if meta:
        model = copy.deepcopy(model).to('meta')
        inputs = tuple(torch.empty(x.shape, dtype=x.dtype, device='meta') for x in inputs)
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2
