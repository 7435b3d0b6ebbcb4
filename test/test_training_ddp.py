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

"""Two CPU ranks on gloo end with identical weights and identical GDWA/stage decisions."""
from __future__ import annotations

import os
import socket

from learning_to_learn_data import Pairs
import pytest
import torch
import torch.multiprocessing as mp


TINY = ['model.backbone=realtime',
        'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}',
        'model.segformer=tiny', 'model.seg_head_hidden=8', 'data.batch_size=2', 'data.crop=32',
        'log_every=1', 'grid_samples=1', 'device=cpu', 'early_stopping_patience=null',
        'epochs=2', 'stage1_max_epochs=1', 'max_steps_per_epoch=2']


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), OMP_NUM_THREADS='1')
    torch.set_num_threads(1)
    from training.config import load_config
    from training.distributed import init_distributed
    from training.trainer import Trainer

    cfg = load_config(None, TINY + [f'output_dir={out}/run'])
    dist = init_distributed('cpu')
    try:
        tr = Trainer(cfg, datasets=(Pairs(8, seed=0), Pairs(2, seed=1)), progress=False, dist=dist)
        res = tr.run()
        torch.save(
            {
                'models': tr.state()['models'],
                'history': res.history,
                'seen': [b['name'] for b in tr.loader(tr.train_ds, True, 0)],
            },
            f'{out}/rank{rank}.pt',
        )
    finally:
        dist.close()


def test_two_gloo_ranks_stay_identical(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    r1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    assert r0['seen'] != r1['seen']  # each rank trained on its own shard
    for part in ('fusion', 'head', 'seg'):
        for k, v in r0['models'][part].items():
            assert torch.equal(v, r1['models'][part][k]), (part, k)
    assert [h['stage'] for h in r0['history']] == [h['stage'] for h in r1['history']] == [1, 2]
    for a, b in zip(r0['history'], r1['history']):  # all-reduced epoch means agree
        for k in ('train_L_fusion', 'train_L_csc', 'train_omega_csc', 'val_L_fusion'):
            if k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-12, abs=0)
    # only rank 0 wrote logs/checkpoints
    assert (tmp_path / 'run' / 'last.pt').is_file() and (
        tmp_path / 'run' / 'scalars.csv'
    ).is_file()
