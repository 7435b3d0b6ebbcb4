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
The loop core (training/loop): what the three training loops share, tested on its own.

Seeding, loaders, the batches of an epoch (with and without reading one past
the cap), best tracking and early stopping, resume and the log, and the step
application built from its inputs alone (no trainer).
"""
from __future__ import annotations

import pytest
import torch
from training.distributed import DistContext
from training.frameworks import StepResult
from training.loop.core import BestTracker, epoch_seed, Loop, make_loader
from training.loop.step import StepApplication, StepPosition, TrainingDiverged
from training.weighting import build_weighting


class Counting(torch.utils.data.Dataset):
    """Items 0..n-1; counts every read."""

    def __init__(self, n: int):
        self.n, self.reads = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.reads += 1
        return torch.tensor(i)


def test_epoch_seed_is_a_pure_function_of_seed_epoch_and_rank():
    assert epoch_seed(3, 2) == epoch_seed(3, 2, 0) != epoch_seed(3, 2, 1) != epoch_seed(3, 3)
    assert 0 <= epoch_seed(10**9, 10**6, 7) < 2**31 - 1


def test_loop_loaders_repeat_per_epoch_and_differ_between_epochs():
    loop = Loop(seed=1, epochs=2)
    ds = Counting(8)
    first = [int(x) for b in loop.loader(ds, 2) for x in b]
    assert first == [int(x) for b in loop.loader(ds, 2) for x in b]
    assert sorted(first) == list(range(8))
    loop.epoch = 1
    assert [int(x) for b in loop.loader(ds, 2) for x in b] != first
    assert [int(x) for b in make_loader(ds, 3) for x in b] == list(range(8))  # no shuffle


@pytest.mark.parametrize('read_past, reads', [(True, 3 * 2), (False, 2 * 2)])
def test_batches_stop_at_the_cap_reading_one_past_it_or_not(read_past, reads):
    loop = Loop(seed=0, epochs=1, max_steps_per_epoch=2)
    ds = Counting(10)
    loader = make_loader(ds, 2)
    got = [b.tolist() for b in loop.batches(loader, 'epoch', read_past=read_past)]
    assert got == [[0, 1], [2, 3]] and ds.reads == reads


def test_best_tracker_keeps_the_best_and_counts_patience():
    low = BestTracker('min', patience=2)
    assert low.update(3.0, 1) and not low.update(3.0, 2) and not low.exhausted  # strict
    assert not low.update(4.0, 3) and low.exhausted and (low.value, low.epoch) == (3.0, 1)
    low.reset()
    assert low.value is None and low.update(9.0, 4) and not low.exhausted
    high = BestTracker('max', patience=None, start=float('-inf'))
    assert not high.update(float('nan'), 1) and high.update(0.5, 2) and not high.exhausted
    copy = BestTracker('max')
    copy.load_state_dict(high.state_dict())
    assert (copy.value, copy.epoch, copy.bad_epochs) == (0.5, 2, 0)


def test_resume_restores_the_state_and_trims_the_log(tmp_path):
    loop = Loop(seed=0, epochs=3, out=tmp_path, log_every=1)
    for _ in range(2):
        loop.step_done({'loss': 1.0})
        loop.end_epoch({'epoch': loop.epoch + 1}, {'loss': 1.0})
    loop.save('last.pt', loop.state_dict())
    loop.step_done({'loss': 2.0})  # a third epoch, killed before its end
    again = Loop(seed=0, epochs=3, out=tmp_path)
    assert again.resume('auto', again.load_state_dict) == tmp_path / 'last.pt'
    assert (again.epoch, again.global_step, len(again.history)) == (2, 2, 2)
    assert max(r['epoch'] for r in again.scalars.read()) == 2
    fresh = Loop(seed=0, epochs=3, out=tmp_path)
    assert fresh.resume(None, fresh.load_state_dict, fresh_log=True) is None
    assert fresh.scalars.read() == []


def test_the_step_application_needs_only_its_inputs():
    w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    steps = StepApplication(build_weighting('fixed', tasks=('fusion', 'csc')), DistContext(),
                            lambda: [w], grad_analysis_every=1)
    at = StepPosition(global_step=0, epoch=0, stage=2)
    losses = {'fusion': (w ** 2).sum(), 'csc': w.sum()}
    rec = steps.apply(StepResult(losses=losses, terms=dict(losses)), {'fusion': opt}, at)
    assert {'L_fusion', 'L_csc', 'L_total', 'w_fusion', 'omega_csc', 'alpha_cf'} <= set(rec)
    assert steps.alpha_mean.mean == rec['alpha_cf'] and not torch.equal(w, torch.tensor([1., -1.]))
    apply, _ = steps.bind({'fusion': opt}, StepPosition(7, 1, 2))
    bad = {'fusion': w.sum() * float('nan')}
    with pytest.raises(TrainingDiverged, match=r"'fusion' is nan at step 7 \(epoch 2, stage 2\)"):
        apply(StepResult(losses=bad, terms=bad))
