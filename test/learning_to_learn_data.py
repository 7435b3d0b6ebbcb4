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

"""In-memory datasets and tiny settings shared by the training tests (no files)."""
from __future__ import annotations

import pytest
import torch


# the realtime backbone and the tiny SegFormer at toy sizes (trainer, RLW, ddp, bag tool tests)
TINY_REALTIME = [
    'model.backbone=realtime',
    'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}',
    'model.segformer=tiny',
    'model.seg_head_hidden=8',
    'data.batch_size=2',
    'data.crop=32',
]
TINY_DENSE = [
    'model.backbone=dense_residual',
    'model.backbone_kwargs={width: 4, growth: 4, layers: 1, blocks: 1}',
    'model.in_channels=1',
    'data.batch_size=2',
    'data.crop=24',
    'data.workers=0',
    'log_every=1',
    'grid_samples=0',
    'device=cpu',
    'early_stopping_patience=null',
    'grad_analysis=false',
]


class Pairs(torch.utils.data.Dataset):
    """
    Random visible/thermal pairs; with ``labels`` a 2-class label (thermal > 0.5).

    ``levels=(ir, vis)``: grey images around those levels (+-0.1 noise) instead of uniform noise,
    so terms pulling towards one source disagree with terms pulling towards the other.
    """

    def __init__(self, n: int, size: int = 32, seed: int = 0, labels: bool = False,
                 levels: tuple[float, float] | None = None):
        g = torch.Generator().manual_seed(seed)
        self.v = torch.rand(n, 3, size, size, generator=g)
        self.t = torch.rand(n, 1, size, size, generator=g)
        if levels is not None:
            self.t = levels[0] + 0.2 * (self.t - 0.5)
            self.v = (levels[1] + 0.2 * (self.v[:, :1] - 0.5)).expand(-1, 3, -1, -1).contiguous()
        self.labels = labels

    def __len__(self) -> int:
        return len(self.v)

    def __getitem__(self, i: int) -> dict:
        s = {'visible': self.v[i], 'thermal': self.t[i], 'name': f's{i}'}
        if self.labels:
            s['label'] = (self.t[i, 0] > 0.5).long()
        return s


@pytest.fixture
def one_thread():
    """Tiny tensors: one intra-op thread avoids thread start/spin costs on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
