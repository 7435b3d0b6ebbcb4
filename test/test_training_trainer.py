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

"""SSVIF trainer: stage switch, GDWA, divergence, checkpoint/resume, configs, CLI, real data."""
from __future__ import annotations

from pathlib import Path

from learning_to_learn_data import TINY_REALTIME
import pytest
import torch
from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import ConfigError, load_config
from training.logging import ScalarLogger
from training.trainer import build_models, stage_switch_due, train, TrainingDiverged


REPO = Path(__file__).resolve().parents[1]
ABL = REPO / 'config' / 'training' / 'ablations'
TINY = [
    *TINY_REALTIME,
    'data.workers=0',
    'log_every=1',
    'grid_samples=1',
    'device=cpu',
    'early_stopping_patience=null',
]


class Pairs(torch.utils.data.Dataset):
    """
    In-memory pairs.

    With ``harder_after`` the images get noisier every epoch (by call count).
    """

    def __init__(self, n, size=32, seed=0, harder_after=None, nan=False):
        g = torch.Generator().manual_seed(seed)
        self.v = torch.rand(n, 3, size, size, generator=g) * 0.2 + 0.4
        self.t = torch.rand(n, 1, size, size, generator=g) * 0.2 + 0.4
        self.noise = torch.rand(n, 3, size, size, generator=g)
        self.calls, self.harder_after, self.nan = 0, harder_after, nan

    def __len__(self):
        return len(self.v)

    def __getitem__(self, i):
        v, t = self.v[i].clone(), self.t[i].clone()
        if self.harder_after is not None and self.calls // len(self) >= self.harder_after:
            v = self.noise[i]  # high-frequency content: gradient/SSIM terms jump up
            t = self.noise[i][:1].flip(-1)
        self.calls += 1
        if self.nan:
            v[0, 0, 0] = float('nan')
        return {'visible': v, 'thermal': t, 'name': f's{i}'}


def _cfg(tmp_path, *extra):
    return load_config(None, TINY + [f'output_dir={tmp_path}'] + list(extra))


def test_stage_switch_rule_values():
    assert not stage_switch_due([5.0])
    assert not stage_switch_due([5.0, 4.0, 3.9])
    assert stage_switch_due([5.0, 4.0, 4.1])
    assert not stage_switch_due([5.0, 4.0, 4.0])  # strictly greater
    assert stage_switch_due([5.0], stage1_max_epochs=1)
    assert not stage_switch_due([5.0, 4.0], stage1_max_epochs=3)


def test_switch_fires_when_loss_rises_and_gdwa_moves_omega(tmp_path):
    cfg = _cfg(tmp_path, 'epochs=3')
    res = train(cfg, progress=False, datasets=(Pairs(4, harder_after=1), Pairs(2, seed=1)))
    h = res.history
    assert [e['stage'] for e in h] == [1, 1, 2]
    assert h[1]['train_L_fusion'] > h[0]['train_L_fusion']  # the rise that triggered the switch
    assert res.stage_switch_epoch == 3
    assert 'train_L_csc' in h[2] and 'train_L_csc' not in h[1]
    rows = ScalarLogger(res.scalars_csv).read()
    omega = [r['value'] for r in rows if r['scope'] == 'step' and r['key'] == 'omega_csc']
    assert len(omega) == 2 and omega[0] != omega[1] and all(o > 0 for o in omega)
    keys = {r['key'] for r in rows}
    assert {'alpha_cf', 'alpha_cf_mean', 'cos_cf', 'g_fusion', 'g_csc', 'lam_csc', 'L_csc', 'lr',
            'samples_per_s', 'val_L_fusion'} <= keys
    assert len(res.grids) == 3 and all(p.stat().st_size > 1000 for p in res.grids)
    # best is chosen in Stage II only
    assert load_checkpoint(res.best_checkpoint)['best']['epoch'] == 3


def test_nan_loss_raises_naming_term_and_step(tmp_path):
    cfg = _cfg(tmp_path, 'epochs=1', 'framework=original')
    with pytest.raises(TrainingDiverged, match=r"'fusion\.int'.*step 0"):
        train(cfg, progress=False, datasets=(Pairs(2, nan=True), Pairs(2)))


def test_resume_continues_and_matches_uninterrupted(tmp_path):
    data = lambda: (Pairs(4, seed=5), Pairs(2, seed=6))  # noqa: E731
    extra = ['stage1_max_epochs=1', 'grid_samples=0', 'max_steps_per_epoch=1']
    full = train(_cfg(tmp_path / 'full', 'epochs=3', *extra), progress=False, datasets=data())
    part = train(_cfg(tmp_path / 'part', 'epochs=2', *extra), progress=False, datasets=data())
    assert [e['epoch'] for e in part.history] == [1, 2]
    resumed = train(
        _cfg(tmp_path / 'part', 'epochs=3', *extra), progress=False, datasets=data(), resume='auto'
    )
    assert [e['epoch'] for e in resumed.history] == [1, 2, 3]
    assert resumed.history[:2] == part.history          # epochs 1-2 restored verbatim
    assert resumed.stage_switch_epoch == full.stage_switch_epoch == 2
    a, b = load_checkpoint(full.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    assert a['epoch'] == b['epoch'] == 3
    for part_name in ('fusion', 'head', 'seg'):
        for k, v in a['models'][part_name].items():
            assert torch.equal(v, b['models'][part_name][k]), (part_name, k)
    assert a['weighting']['history'] == b['weighting']['history']
    for k in ('train_L_fusion', 'train_L_csc', 'train_omega_csc', 'val_L_fusion'):
        assert full.history[2][k] == resumed.history[2][k]


def test_resume_refuses_other_model_settings_and_applies_a_new_lr(tmp_path, capsys):
    """
    Defects: a resume with another model setting dumped PyTorch's tensor-by-tensor message.

    A changed learning rate was silently replaced by the checkpoint's.
    """
    data = lambda: (Pairs(4, seed=5), Pairs(2, seed=6))  # noqa: E731
    extra = ['grid_samples=0', 'max_steps_per_epoch=1', 'optim.lr=1e-3']
    train(_cfg(tmp_path, 'epochs=1', *extra), progress=False, datasets=data())
    with pytest.raises(ValueError) as exc:
        train(_cfg(tmp_path, 'epochs=2', *extra, 'model.in_channels=1'), progress=False,
              datasets=data(), resume='auto')
    msg = str(exc.value)
    assert '\n' not in msg and 'model.in_channels=3' in msg and 'says 1' in msg, msg
    capsys.readouterr()
    res = train(_cfg(tmp_path, 'epochs=2', *extra[:-1], 'optim.lr=5e-4'), progress=False,
                datasets=data(), resume='auto')
    assert 'learning rate 0.001 -> 0.0005' in capsys.readouterr().err
    assert res.history[-1]['epoch'] == 2
    ck = load_checkpoint(res.last_checkpoint)
    assert all(g['lr'] == 5e-4 for o in ck['optimizers'].values() if o for g in o['param_groups'])


def test_checkpoint_is_atomic_and_weights_only(tmp_path):
    p = save_checkpoint(tmp_path / 'x.pt', {'a': torch.ones(2), 'cfg': {'k': [1, 2]}})
    assert torch.equal(load_checkpoint(p)['a'], torch.ones(2))
    assert [q.name for q in tmp_path.iterdir()] == ['x.pt']  # no temp file left behind
    (tmp_path / 'bad.pt').write_bytes(b'not a checkpoint')
    from training.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match='cannot read'):
        load_checkpoint(tmp_path / 'bad.pt')


def test_config_overrides_and_unknown_keys(tmp_path):
    cfg = load_config(
        REPO / 'config/training/ssvif.yaml', ['data.crop=64', 'weighting.options={T: 3}']
    )
    assert cfg.data.crop == 64 and cfg.weighting.options == {'T': 3}
    assert (cfg.loss.lambdas, cfg.optim.lr, cfg.epochs, cfg.data.batch_size) == (
        [20.0, 20.0, 10.0, 20.0],
        1e-4,
        110,
        10,
    )
    assert (cfg.model.seg_classes, cfg.model.segformer, cfg.early_stopping_patience) == (
        15,
        'b3',
        10,
    )
    with pytest.raises(ConfigError, match='data.crp'):
        load_config(None, ['data.crp=3'])
    with pytest.raises(ConfigError, match='model.in_channels'):
        load_config(None, ['model.in_channels=2'])
    demo = load_config(REPO / 'config/training/demo.yaml')
    assert (
        demo.model.segformer == 'tiny'
        and demo.stage1_max_epochs == 2
        and demo.loss.lambdas[3] == 20.0
    )


EXPECTED = {
    'framework_original': {
        'framework': 'original',
        'uses_branches': False,
        'lambdas': [20.0, 20.0, 10.0, 0.0],
    },
    'omega_fixed_0p1': {'weighting': 'fixed', 'options': {'omega_csc': 0.1}},
    'ucw': {'weighting': 'ucw'},
    'dwa': {'weighting': 'dwa'},
    'segmif': {'weighting': 'segmif'},
    'gdwa': {'weighting': 'gdwa'},
    'rlw': {'weighting': 'rlw', 'options': {'sigma': 1.0, 'seed': 0}},
    'no_csc': {'csc': False, 'uses_branches': False},
    'no_two_stage': {'two_stage': False, 'uses_branches': True},
    'classes_9': {'seg_classes': 9},
    'classes_15': {'seg_classes': 15},
    'lambda4_10': {'lambdas': [20.0, 20.0, 10.0, 10.0]},
    'lambda4_20': {'lambdas': [20.0, 20.0, 10.0, 20.0]},
    'lambda4_30': {'lambdas': [20.0, 20.0, 10.0, 30.0]},
    'single_channel': {'in_channels': 1},
    'three_channel': {'in_channels': 3},
}


def test_every_ablation_file_sets_its_row():
    assert sorted(p.stem for p in ABL.glob('*.yaml')) == sorted(EXPECTED)
    for name, exp in EXPECTED.items():
        c = load_config(ABL / f'{name}.yaml')
        got = {
            'framework': c.framework,
            'uses_branches': c.uses_branches,
            'lambdas': c.loss.lambdas,
            'weighting': c.weighting.name,
            'options': c.weighting.options,
            'csc': c.csc,
            'two_stage': c.two_stage,
            'seg_classes': c.model.seg_classes,
            'in_channels': c.model.in_channels,
        }
        for k, v in exp.items():
            assert got[k] == v, (name, k, got[k])
        assert c.epochs == 110 and c.optim.lr == 1e-4 and c.data.crop == 160  # inherited
    tiny = TINY[:4]
    no_csc = build_models(load_config(ABL / 'no_csc.yaml', tiny))
    assert no_csc['head'] is None and no_csc['seg'] is None
    single = build_models(load_config(ABL / 'single_channel.yaml', tiny + ['csc=false']))
    assert single['fusion'].in_channels == 1


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    from training import cli

    assert cli.main(['--set', 'data.nope=1', '--output', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'data.nope' in err
    assert cli.main(['--config', str(REPO / 'config/training/demo.yaml'),
                     '--data-root', str(tmp_path / 'none'), '--output', str(tmp_path)]) == 2
    assert 'not a folder' in capsys.readouterr().err

    def boom(*a, **k):
        raise TrainingDiverged("loss term 'csc' is nan at step 7")

    monkeypatch.setattr('training.trainer.train', boom)
    assert cli.main(['--output', str(tmp_path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and "'csc'" in err and 'step 7' in err


def test_real_roadscene_run_switches_stage(shared_data, tmp_path):
    root = shared_data / 'ivf_roadscene50'
    if not root.is_dir():
        pytest.skip('ivf_roadscene50 not in shared data')
    cfg = load_config(
        REPO / 'config/training/demo.yaml',
        TINY
        + [
            'data.kind=pairs',
            f'data.root={root}',
            f'output_dir={tmp_path}',
            'epochs=2',
            'stage1_max_epochs=1',
            'max_steps_per_epoch=2',
            'data.max_samples=20',
        ],
    )
    res = train(cfg, progress=False)
    assert [e['stage'] for e in res.history] == [1, 2] and res.stage_switch_epoch == 2
    rows = ScalarLogger(res.scalars_csv).read()
    omega = [r['value'] for r in rows if r['key'] == 'omega_csc' and r['scope'] == 'step']
    assert len(omega) == 2 and omega[0] != omega[1]
    assert all(torch.isfinite(torch.tensor(e['val_L_fusion'])) for e in res.history)
    assert (tmp_path / 'last.pt').is_file() and (tmp_path / 'grids' / 'epoch_002.png').is_file()
