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
Data-parallel training under torchrun (RANK / WORLD_SIZE / LOCAL_RANK).

Why explicit all-reduces instead of wrapping the models in
``DistributedDataParallel``: GDWA and the gradient analysis need per-task
gradients of the shared fusion parameters (``torch.autograd.grad``), which
bypass DDP's backward hooks, so every rank would see only its local
gradients and compute different omega_csc. Here each rank runs its own
shard (``DistributedSampler``), then

* parameter gradients are averaged with one all-reduce per step (what DDP
  does), so optimizers stay bitwise-identical across ranks;
* the per-task gradients are averaged before their norms are taken, and the
  step losses fed to the weighting strategy are averaged, so every rank
  computes the same weights;
* BatchNorm buffers are broadcast from rank 0 before each forward (DDP's
  ``broadcast_buffers``) and once more at the end of each epoch, so
  validation and checkpoints see the same statistics on every rank;
* epoch-mean losses are sums all-reduced across ranks, so the Stage-I/II
  switch and early stopping are decided identically everywhere.

Backend: nccl on CUDA, gloo on CPU. Only rank 0 writes logs and checkpoints.
With WORLD_SIZE unset or 1 every method is a no-op.
"""
from __future__ import annotations

from dataclasses import dataclass
import os
from typing import Iterable, Mapping

import torch
import torch.distributed as dist


__all__ = ['DistContext', 'init_distributed', 'resolve_device']


def resolve_device(pref: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; anything else as given (cuda must exist)."""
    if pref == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dev = torch.device(pref)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'device {pref!r} requested but CUDA is not available')
    return dev


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def all_reduce_mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= self.world_size
        return t

    def mean_scalars(self, values: Mapping[str, float]) -> dict[str, float]:
        """Average a dict of floats over ranks (one all-reduce, fixed key order)."""
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        self.all_reduce_mean(t)
        return {k: float(v) for k, v in zip(keys, t.tolist())}

    def sum_scalars(self, values: Mapping[str, float]) -> dict[str, float]:
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        self.all_reduce_sum(t)
        return {k: float(v) for k, v in zip(keys, t.tolist())}

    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Mean of .grad over ranks, flattened into one all-reduce; missing grads count as 0."""
        if not self.enabled:
            return
        params = [p for p in params if p.requires_grad]
        if not params:
            return
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )
        self.all_reduce_mean(flat)
        i = 0
        for p in params:
            n = p.numel()
            g = flat[i:i + n].view_as(p)
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)
            i += n

    def broadcast_module(self, module: torch.nn.Module | None, buffers_only: bool = False) -> None:
        """Copy rank 0's parameters (unless ``buffers_only``) and buffers to all ranks."""
        if not self.enabled or module is None:
            return
        tensors = (
            list(module.buffers())
            if buffers_only
            else list(module.parameters()) + list(module.buffers())
        )
        with torch.no_grad():
            for t in tensors:
                dist.broadcast(t.data, src=0)

    def all_true(self, flag: bool) -> bool:
        """
        Return True only if ``flag`` is True on every rank.

        Used to stop all ranks on divergence.
        """
        if not self.enabled:
            return flag
        t = torch.tensor([0.0 if flag else 1.0], device=self.device)
        self.all_reduce_sum(t)
        return float(t) == 0.0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def init_distributed(device_pref: str = 'auto') -> DistContext:
    """Read torchrun's env; start the process group when WORLD_SIZE > 1."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', str(rank)))
    device = resolve_device(device_pref)
    if world <= 1:
        return DistContext(device=device)
    if device.type == 'cuda':
        device = torch.device('cuda', local)
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend='nccl' if device.type == 'cuda' else 'gloo',
                                rank=rank, world_size=world)
        owns = True
    return DistContext(
        rank=rank, world_size=world, local_rank=local, device=device, owns_group=owns
    )
