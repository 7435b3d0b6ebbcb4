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
Frameworks on the shared trainer.

Registry and config checks, a framework added from outside, each new framework training for
real (its losses fall), checkpoints, resume across phases.
"""
from __future__ import annotations

from framework_data import LabelledScenes
from learning_to_learn_data import one_thread  # noqa: F401 (a fixture)
import pytest
import torch
from training.checkpoint import load_checkpoint, load_fusion_model
from training.config import ConfigError, load_config
from training.frameworks import available_frameworks, Framework, register_framework, StepResult
from training.logging import ScalarLogger
from training.trainer import build_models, train


BASE = [
    'data.batch_size=2',
    'data.crop=32',
    'log_every=1',
    'grid_samples=0',
    'device=cpu',
    'early_stopping_patience=null',
    'model.seg_classes=3',
    'model.segformer=tiny',
    'optim.lr=2e-3',
    'grad_analysis=false',
]
REALTIME = 'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}'
SEGMIF_NET = (
    'model.backbone_kwargs={semantic: segformer, segformer: tiny, num_classes: 3, width: 8, '
    'growth: 4, layers: 2, heads: 2}'
)
RUNS = {
    'multitaskvif': [
        'framework=multitaskvif',
        'model.decoder=mth',
        'model.backbone=realtime',
        REALTIME,
        'model.decoder_kwargs={width: 8, heads: 2}',
        'weighting.name=fixed',
        'weighting.options={omega_csc: 1.0}',
    ],
    'segmif': [
        'framework=segmif',
        'model.backbone=segmif',
        'model.in_channels=1',
        SEGMIF_NET,
        'weighting.name=segmif',
        'weighting.options={relative: false}',
        'framework_options={fusion_steps: 3, seg_steps: 3}',
    ],
    'original_seafusion': [
        'framework=original_seafusion',
        'model.backbone=seafusion',
        'model.in_channels=1',
        'model.backbone_kwargs={widths: [4, 8, 8]}',
        'framework_options={fusion_steps: 3, seg_steps: 3}',
    ],
    'original_swinfusion': [
        'framework=original_swinfusion',
        'model.backbone=realtime',
        'model.in_channels=1',
        REALTIME,
    ],
    'original_emma': [
        'framework=original_emma',
        'model.backbone=emma',
        'model.in_channels=1',
        'model.backbone_kwargs={widths: [4, 4, 8, 8], heads: 2}',
        'framework_options={sensing_epochs: 1, sensing_width: 4, sensing_depth: 2, shifts: 1, '
        'rotations: 1, flips: 1}',
    ],
}
LABELLED = {'multitaskvif', 'segmif', 'original_seafusion'}


pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors: one thread


def _cfg(tmp_path, name, *extra):
    return load_config(None, BASE + RUNS[name] + [f'output_dir={tmp_path / name}'] + list(extra))


def _data(name, n=6):
    lab = name in LABELLED
    return LabelledScenes(n, size=32, labels=lab), LabelledScenes(2, size=32, seed=1, labels=lab)


def test_registry_and_config_checks():
    assert {'ssvif', 'original', 'multitaskvif', 'segmif', 'original_swinfusion', 'original_emma',
            'original_seafusion'} <= set(available_frameworks())
    with pytest.raises(ConfigError, match='framework must be one of .*multitaskvif'):
        load_config(None, ['framework=cascade'])
    with pytest.raises(ConfigError, match='needs model.decoder: mth'):
        load_config(None, ['framework=multitaskvif'])
    with pytest.raises(ConfigError, match='framework_options: .*bogus'):
        load_config(None, ['framework=ssvif', 'framework_options={bogus: 1}'])
    with pytest.raises(ConfigError, match='semantic: segformer'):
        load_config(None, ['framework=segmif', 'model.backbone=segmif'])
    with pytest.raises(ConfigError, match='num_classes .* must equal model.seg_classes'):
        load_config(None, ['framework=segmif', 'model.backbone=segmif', 'model.seg_classes=9',
                           'model.backbone_kwargs={semantic: segformer}'])
    with pytest.raises(ConfigError, match='model.backbone must be one of .*emma.*segmif'):
        load_config(None, ['model.backbone=unet'])


def test_label_rules_are_enforced(tmp_path):
    with pytest.raises(RuntimeError, match='needs labels'):
        train(_cfg(tmp_path, 'multitaskvif', 'epochs=1'), progress=False,
              datasets=(LabelledScenes(2, 32, labels=False), LabelledScenes(1, 32, labels=False)))
    with pytest.raises(RuntimeError, match='label-free'):
        train(_cfg(tmp_path, 'original_swinfusion', 'epochs=1'), progress=False,
              datasets=(LabelledScenes(2, 32), LabelledScenes(1, 32)))


def test_a_framework_added_from_outside_trains(tmp_path):
    """The interface as the package docstring tells it: one class, registered, chosen by name."""

    @register_framework('test_mean_target')
    class MeanTarget(Framework):

        def step_losses(self, batch, ctx):
            out = ctx.modules['fusion'](batch['visible'], batch['thermal'])
            target = 0.5 * (batch['visible'] + batch['thermal'])
            loss = ((out.fused - target) ** 2).mean()
            return StepResult({'fusion': loss}, {'fusion.mse': loss, 'fusion': loss})

        def validation_losses(self, batch, ctx):
            out = ctx.modules['fusion'](batch['visible'], batch['thermal'])
            return {
                'fusion': ((out.fused - 0.5 * (batch['visible'] + batch['thermal'])) ** 2).mean()
            }

    cfg = load_config(
        None,
        BASE
        + [
            'framework=test_mean_target',
            'model.backbone=realtime',
            REALTIME,
            'epochs=3',
            f'output_dir={tmp_path}',
        ],
    )
    res = train(cfg, progress=False, datasets=_data('original_swinfusion'))
    h = res.history
    assert h[-1]['train_L_fusion'] < h[0]['train_L_fusion'] and 'train_loss_mse' in h[0]


@pytest.mark.parametrize('name', sorted(RUNS))
def test_framework_trains_and_its_losses_fall(tmp_path, name):
    res = train(_cfg(tmp_path, name, 'epochs=4'), progress=False, datasets=_data(name))
    h = res.history
    fusion = [e['train_L_fusion'] for e in h if 'train_L_fusion' in e]
    assert len(fusion) >= 2 and fusion[-1] < fusion[0], fusion
    if name in ('segmif', 'original_seafusion'):
        # 3 steps per epoch = one phase per epoch: fusion, seg, fusion(+seg), seg
        rows = ScalarLogger(res.scalars_csv).read()
        opt_steps = [
            (r['step'], r['value']) for r in rows if r['scope'] == 'step' and r['key'] == 'L_seg'
        ]
        assert {s for s, _ in opt_steps} == set(
            range(3, 12)
        )  # no seg loss in round 0's fusion phase
        seg_epochs = [e['train_L_seg'] for e in h if 'train_L_seg' in e]
        assert seg_epochs[-1] < seg_epochs[0], seg_epochs
    if name == 'original_emma':
        assert [e['stage'] for e in h] == [1, 2, 2, 2] and 'train_L_sensing' in h[0]
        assert load_checkpoint(res.best_checkpoint)['best']['epoch'] >= 2  # best from stage 2 only
    if name == 'multitaskvif':
        assert h[-1]['train_L_seg'] < h[0]['train_L_seg']
        assert {
            'train_loss_int',
            'train_loss_seg_ce',
            'train_loss_seg_dice',
            'train_omega_seg',
        } <= set(h[0])
        assert h[0]['train_omega_seg'] == 1.0  # beta_1 = beta_2 = 1


def test_multitaskvif_gradient_analysis_over_the_backbone(tmp_path):
    res = train(_cfg(tmp_path, 'multitaskvif', 'epochs=1', 'grad_analysis=true'), progress=False,
                datasets=_data('multitaskvif', n=4))
    keys = {r['key'] for r in ScalarLogger(res.scalars_csv).read()}
    assert {'alpha_seg_f', 'cos_seg_f', 'g_fusion', 'g_seg'} <= keys


def test_segmif_optimizers_split_fusion_and_segformer(tmp_path):
    cfg = _cfg(
        tmp_path, 'segmif', 'framework_options={fusion_steps: 3, seg_steps: 3, seg_lr: 1.0e-4}'
    )
    from training.trainer import Trainer

    tr = Trainer(cfg, datasets=_data('segmif', 2), progress=False)
    seg = {id(p) for p in tr.modules['fusion'].backbone.segmenter.parameters()}
    fus = {id(p) for g in tr.optimizers['fusion'].param_groups for p in g['params']}
    assert seg and not (seg & fus)
    assert {id(p) for g in tr.optimizers['seg'].param_groups for p in g['params']} == seg
    assert tr.optimizers['seg'].param_groups[0]['lr'] == 1e-4
    assert tr.optimizers['fusion'].param_groups[0]['lr'] == 2e-3


@pytest.mark.parametrize('name', ['multitaskvif', 'segmif'])
def test_checkpoint_rebuilds_the_deployed_network(tmp_path, name):
    res = train(_cfg(tmp_path, name, 'epochs=1'), progress=False, datasets=_data(name, 2))
    fusion, spec = load_fusion_model(res.last_checkpoint)
    trained = build_models(_cfg(tmp_path, name))['fusion']
    trained.load_state_dict(load_checkpoint(res.last_checkpoint)['models']['fusion'])
    vis, th = torch.rand(1, 3, 40, 40), torch.rand(1, 1, 40, 40)
    with torch.no_grad():
        assert torch.equal(fusion(vis, th).fused, trained.eval()(vis, th).fused)
    assert spec['backbone'] == {'multitaskvif': 'realtime', 'segmif': 'segmif'}[name]


def test_segmif_resume_across_phases_matches_uninterrupted(tmp_path):
    full = train(
        _cfg(tmp_path / 'a', 'segmif', 'epochs=3'), progress=False, datasets=_data('segmif')
    )
    cut = _cfg(tmp_path / 'b', 'segmif', 'epochs=2')
    train(cut, progress=False, datasets=_data('segmif'))
    resumed = train(
        _cfg(tmp_path / 'b', 'segmif', 'epochs=3'),
        progress=False,
        datasets=_data('segmif'),
        resume='auto',
    )
    a = load_checkpoint(full.last_checkpoint)
    b = load_checkpoint(resumed.last_checkpoint)
    for k, v in a['models']['fusion'].items():
        assert torch.equal(v, b['models']['fusion'][k]), k
    assert a['optimizers']['seg']['state'].keys() == b['optimizers']['seg']['state'].keys()
