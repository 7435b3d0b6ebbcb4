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
Tiny labelled scenes for the framework tests.

A hot object (class 2) and a textured patch (class 1) on background (class 0); thermal
sees the object, visible sees the texture.
"""
from __future__ import annotations

import torch


class LabelledScenes(torch.utils.data.Dataset):

    def __init__(self, n: int, size: int = 24, seed: int = 0, labels: bool = True):
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for i in range(n):
            lab = torch.zeros(size, size, dtype=torch.long)
            y, x = (int(v) for v in torch.randint(0, size // 2, (2,), generator=g))
            lab[y:y + size // 3, x:x + size // 3] = 2
            y, x = (int(v) for v in torch.randint(0, size // 2, (2,), generator=g))
            lab[y:y + size // 3, x:x + size // 2] = 1
            lab[0, :] = 255  # an ignored row
            checker = ((torch.arange(size)[:, None] + torch.arange(size)[None]) % 4 < 2).float()
            vis = torch.stack(
                [0.3 + 0.4 * checker * (lab == 1), 0.35 + 0.1 * (lab == 2), 0.4 + 0 * checker]
            )
            vis = (vis + 0.03 * torch.rand(3, size, size, generator=g)).clamp(0, 1)
            th = (0.2 + 0.6 * (lab == 2).float() + 0.03 * torch.rand(size, size, generator=g))[
                None
            ]
            self.items.append((vis.float(), th.clamp(0, 1), lab))
        self.labels = labels

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        vis, th, lab = self.items[i]
        out = {'visible': vis, 'thermal': th, 'name': f'scene{i}'}
        if self.labels:
            out['label'] = lab
        return out
