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

"""CAF (seed paper 002): search-space terms, perceptual loss, loss search, retraining, command."""
from __future__ import annotations

from pathlib import Path

import pytest


torch = pytest.importorskip('torch')

from learning_to_learn_data import one_thread, Pairs, TINY_DENSE  # noqa: E402,F401,I100
from training.caf.config import load_caf_config  # noqa: E402
from training.caf.space import CAFLossSpace, SEARCHED_DEFAULT, TERMS  # noqa: E402
from training.config import ConfigError, load_config  # noqa: E402
from training.losses.perceptual import (  # noqa: E402
    load_vgg16_features,
    PerceptualError,
    PerceptualLoss,
    vgg16_features,
    VGG16_TAPS,
)


REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors on a shared CPU
C1 = 0.01 ** 2  # SSIM's K1^2 (data range 1)


def const(v, c=1, s=16):
    return torch.full((1, c, s, s), float(v))


# ---------------------------------------------------------------------------- search space
def test_terms_on_constant_images_match_hand_values():
    """
    Terms on constant images match hand values.

    F = 0.5, IR = 1, VIS = 0 (flat): VSM is 0 everywhere, so M = 1 - M = 0.5; Sobel magnitudes
    are all sqrt(eps); SSIM of flat images is its luminance term
    (2 mu_x mu_y + C1)/(mu_x^2 + mu_y^2 + C1).
    """
    space = CAFLossSpace(searched=[t for t in TERMS if not t.startswith('per_')], fixed={})
    t = {k: float(v) for k, v in space.terms(const(0.5), const(1.0), const(0.0, c=3)).items()}
    assert t['l1_ir'] == pytest.approx(0.5) and t['l1_vis'] == pytest.approx(0.5)
    assert t['l1_max'] == pytest.approx(0.5)
    assert t['mse_ir'] == pytest.approx(0.25) and t['mse_max'] == pytest.approx(0.25)
    assert t['l1_mask_ir'] == pytest.approx(0.25)   # |0.5*0.5 - 0.5*1|
    assert t['l1_mask_vis'] == pytest.approx(0.25)  # |0.5*0.5 - 0.5*0|
    assert t['mse_mask_ir'] == pytest.approx(0.0625) and t['mse_mask_vis'] == pytest.approx(0.0625)
    assert t['ssim_ir'] == pytest.approx(1 - (1 + C1) / (1.25 + C1), rel=1e-4)
    assert t['ssim_vis'] == pytest.approx(1 - C1 / (0.25 + C1), rel=1e-4)
    assert t['grad_ir'] == pytest.approx(0.0, abs=1e-6) and t['grad_max'] == pytest.approx(
        0.0, abs=1e-6
    )


def test_total_weights_searched_terms_by_beta_and_adds_fixed_ones():
    space = CAFLossSpace(searched=['l1_ir', 'mse_vis'], fixed={'mse_mask_ir': 0.5})
    terms = space.terms(const(0.5), const(1.0), const(0.0, c=3))
    beta = CAFLossSpace.beta(
        torch.tensor([0.0, float(torch.log(torch.tensor(3.0)))])
    )  # (1/4, 3/4)
    assert beta.tolist() == pytest.approx([0.25, 0.75])
    assert float(space.total(terms, beta)) == pytest.approx(
        0.25 * 0.5 + 0.75 * 0.25 + 0.5 * 0.0625
    )
    with pytest.raises(ValueError, match='beta must have 2'):
        space.total(terms, torch.ones(3))


def test_space_refuses_unknown_duplicate_and_weightless_perceptual_terms():
    with pytest.raises(ValueError, match='unknown loss term'):
        CAFLossSpace(searched=['l1_thermal'])
    with pytest.raises(ValueError, match='both searched and fixed'):
        CAFLossSpace(searched=['l1_ir'], fixed={'l1_ir': 1.0})
    with pytest.raises(ValueError, match='need VGG-16 weights'):
        CAFLossSpace(searched=['l1_ir', 'per_ir'])
    assert 'per_ir' not in SEARCHED_DEFAULT and len(SEARCHED_DEFAULT) == 13


# ---------------------------------------------------------------------------- perceptual
def test_perceptual_loss_on_a_small_self_made_network():
    """
    Perceptual loss of a self-made network: (0.5 - 0.2)^2 = 0.09.

    A 1x1 conv averaging the three channels, then ReLU: a grey 0.5 image vs a grey 0.2 one gives
    feature maps 0.5 and 0.2, so the loss (one tap) is (0.5 - 0.2)^2 = 0.09.
    """
    conv = torch.nn.Conv2d(3, 1, 1, bias=False)
    torch.nn.init.constant_(conv.weight, 1.0 / 3.0)
    net = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.Conv2d(1, 1, 1))
    loss = PerceptualLoss(net, taps=(1,), normalize=False)
    assert len(loss.features) == 2  # cut after the last tap
    assert float(loss(const(0.5), const(0.2))) == pytest.approx(0.09)
    fused = const(0.5).requires_grad_(True)
    loss(fused, const(0.2)).backward()
    assert fused.grad is not None and all(not p.requires_grad for p in loss.features.parameters())
    space = CAFLossSpace(searched=['per_ir', 'l1_ir'], fixed={}, perceptual=loss)
    terms = space.terms(const(0.5), const(0.2), const(0.0, c=3))
    assert float(terms['per_ir']) == pytest.approx(0.09)
    # per terms carry the authors' extra 0.1
    assert float(space.total(terms, torch.tensor([1.0, 0.0]))) == pytest.approx(0.009)


def test_vgg16_weights_load_from_a_user_file(tmp_path):
    ref = vgg16_features()
    state = {f'features.{k}': v for k, v in ref.state_dict().items()}
    state['classifier.0.weight'] = torch.zeros(2, 2)  # a full torchvision state dict: ignored
    torch.save(state, tmp_path / 'vgg16.pth')
    net = load_vgg16_features(tmp_path / 'vgg16.pth')
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(net(x), ref(x))
    assert [type(net[i]).__name__ for i in VGG16_TAPS] == ['ReLU'] * 5
    convs = [i for i, m in enumerate(net) if isinstance(m, torch.nn.Conv2d)]
    assert [convs[k - 1] + 1 for k in (1, 3, 5, 9, 13)] == list(VGG16_TAPS)
    torch.save({'0.weight': torch.zeros(1)}, tmp_path / 'bad.pth')
    with pytest.raises(PerceptualError, match='not a VGG-16'):
        load_vgg16_features(tmp_path / 'bad.pth')
    with pytest.raises(PerceptualError, match='not found'):
        load_vgg16_features(tmp_path / 'none.pth')


# ---------------------------------------------------------------------------- search
# The search tests use a smaller space (no SSIM: its Gaussian filters dominate a CPU step);
# the command test below runs the full default space.
SMALL = ['l1_ir', 'l1_vis', 'l1_max', 'mse_ir', 'mse_vis', 'mse_max', 'grad_max', 'l1_mask_ir']
SMALL_SPACE = [f"space.searched=[{', '.join(SMALL)}]", 'space.fixed={}']


def _search_cfg(tmp_path, *extra):
    return load_caf_config(
        REPO / 'config' / 'training' / 'caf_search.yaml',
        [
            'data.crop=24',
            'data.batch_size=2',
            'model.backbone_kwargs={width: 4, growth: 4, layers: 1, blocks: 1}',
            'task.width=4',
            'task.num_classes=2',
            'search.max_steps_per_epoch=2',
            'search.epochs=1',
            f'output_dir={tmp_path}',
            *extra,
        ],
    )


def test_search_config_file_and_errors():
    cfg = load_caf_config(REPO / 'config' / 'training' / 'caf_search.yaml')
    assert cfg.search.lr == 0.05 and cfg.search.lr_decay == 0.998 and cfg.search.epochs == 10
    assert tuple(cfg.space.searched) == SEARCHED_DEFAULT and cfg.model.backbone == 'dense_residual'
    with pytest.raises(ConfigError, match='search.epochs'):
        load_caf_config(None, ['search.epochs=0'])
    with pytest.raises(ConfigError, match='unknown config key'):
        load_caf_config(None, ['search.learning_rate=1'])
    with pytest.raises(ConfigError, match='need VGG-16 weights'):
        load_caf_config(None, ['space.searched=[per_ir]'])
    with pytest.raises(ConfigError, match='needs labels'):
        load_caf_config(None, ['data.kind=pairs'])


def test_search_moves_beta_writes_it_and_resumes_bit_exactly(tmp_path):
    from training.caf.build import read_beta_file
    from training.logging import ScalarLogger
    from training.caf.search import LossSearch

    data = (Pairs(4, labels=True), Pairs(4, seed=1, labels=True))
    space = SMALL_SPACE + ['space.fixed={mse_mask_ir: 0.5}', 'search.max_steps_per_epoch=1']
    cfg = _search_cfg(tmp_path / 'full', 'search.epochs=2', *space)
    full = LossSearch(cfg, datasets=data).run()
    doc = read_beta_file(full.beta_file)
    beta = list(doc['searched'].values())
    assert list(doc['searched']) == SMALL and sum(beta) == pytest.approx(1.0)
    assert max(abs(b - 1 / len(SMALL)) for b in beta) > 1e-3  # moved from the uniform start
    assert doc['fixed'] == {'mse_mask_ir': 0.5} and doc['search']['steps'] == 2
    rows = ScalarLogger(full.output_dir / 'scalars.csv').read()
    steps = [r for r in rows if r['scope'] == 'step']
    keys = {r['key'] for r in steps}
    assert {'L_outer_before', 'L_outer_after', 'L_outer_change', 'beta_l1_ir', 'L_task_train',
            'hypergrad_norm', 'loss_grad_max'} <= keys
    before = [r['value'] for r in steps if r['key'] == 'L_outer_before']
    after = [r['value'] for r in steps if r['key'] == 'L_outer_after']
    change = [r['value'] for r in steps if r['key'] == 'L_outer_change']
    assert len(change) == 2 and change == pytest.approx([a - b for a, b in zip(after, before)])
    # interrupted after one epoch, resumed: the same alpha as the uninterrupted search
    LossSearch(_search_cfg(tmp_path / 'cut', *space), datasets=data).run()
    resumed = LossSearch(_search_cfg(tmp_path / 'cut', 'search.epochs=2', *space),
                         datasets=data).run(resume='auto')
    assert resumed.beta == full.beta


def test_search_prefers_the_terms_that_agree_with_the_outer_objective(tmp_path):
    """
    The search prefers the terms that agree with the outer objective.

    Bright thermal (0.8), dark visible (0.2) images and an outer objective mean |F - IR|:
    the terms pulling F towards IR (l1/mse to IR and to the max, here IR) must end with more
    weight than those pulling towards the visible image, and every beta move must lower the
    outer loss.
    """
    from training.caf.search import LossSearch

    class L1Outer(LossSearch):

        def outer_loss(self, batch):
            def loss(w, h):
                grey = self.fused_with(w, batch).mean(1, keepdim=True)
                return (grey - batch['thermal']).abs().mean()
            return loss

    cfg = _search_cfg(tmp_path, 'search.epochs=3', *SMALL_SPACE)
    data = (
        Pairs(4, labels=True, levels=(0.8, 0.2)),
        Pairs(4, seed=1, labels=True, levels=(0.8, 0.2)),
    )
    res = L1Outer(cfg, datasets=data).run()
    towards_ir = [res.beta[k] for k in ('l1_ir', 'mse_ir', 'l1_max', 'mse_max')]
    towards_vis = [res.beta[k] for k in ('l1_vis', 'mse_vis')]
    assert min(towards_ir) > 1 / len(SMALL) > max(towards_vis)
    assert all(h['mean_L_outer_change'] < 0 for h in res.history)


# ---------------------------------------------------------------------------- retraining (caf)
def test_caf_framework_trains_with_the_searched_loss(tmp_path):
    from training.caf.build import write_beta_file
    from training.frameworks.base import StepContext
    from training.frameworks.caf import CAFRetrain
    from training.trainer import train

    space = CAFLossSpace(searched=['l1_ir', 'ssim_vis'], fixed={'mse_mask_ir': 0.5})
    loss_file = write_beta_file(
        tmp_path / 'beta.yaml', space, torch.tensor([0.0, 1.0]), {'steps': 0}
    )
    cfg = load_config(
        None,
        TINY_DENSE
        + [
            'framework=caf',
            f'framework_options={{loss_file: {loss_file}}}',
            'epochs=1',
            f'output_dir={tmp_path / "run"}',
        ],
    )
    fw = CAFRetrain(cfg, loss_file=str(loss_file))
    e = float(torch.e)
    assert fw.beta.tolist() == pytest.approx([1 / (1 + e), e / (1 + e)])
    net = fw.build_modules()['fusion']
    b = Pairs(2)[0]
    batch = {'visible': b['visible'][None], 'thermal': b['thermal'][None]}
    ctx = StepContext(modules={'fusion': net}, optimizers={}, device=torch.device('cpu'), stage=1,
                      global_step=0, epoch=0)
    res = fw.step_losses(batch, ctx)
    fused = net(batch['visible'], batch['thermal']).fused
    t = space.terms(fused, batch['thermal'], batch['visible'])
    expect = fw.beta[0] * t['l1_ir'] + fw.beta[1] * t['ssim_vis'] + 0.5 * t['mse_mask_ir']
    assert float(res.losses['fusion'].detach()) == pytest.approx(float(expect.detach()), rel=1e-6)
    assert set(res.terms) == {'fusion.l1_ir', 'fusion.ssim_vis', 'fusion.mse_mask_ir', 'fusion'}
    out = train(cfg, progress=False, datasets=(Pairs(4), Pairs(2, seed=1)))
    assert out.history[0]['train_loss_l1_ir'] > 0 and 'val_L_fusion' in out.history[0]
    with pytest.raises(ConfigError, match='loss_file'):
        load_config(None, TINY_DENSE + ['framework=caf'])
    inline = CAFRetrain(cfg, loss={'searched': {'l1_ir': 1.0}, 'fixed': {}})
    assert inline.beta.tolist() == [1.0]
    with pytest.raises(TypeError, match='not a loss search result'):
        CAFRetrain(cfg, loss={'fixed': {'l1_ir': 1.0}})
    with pytest.raises(TypeError, match='one of'):
        CAFRetrain(cfg, loss_file=str(loss_file), loss={'searched': {'l1_ir': 1.0}})


# ---------------------------------------------------------------------------- command
def _write_sets(root: Path, n: int = 4, size: int = 40) -> tuple[Path, Path]:
    """Return a labelled synthetic_folder set and an unlabelled pairs set of tiny PNGs."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    lab, pairs = root / 'labelled', root / 'pairs'
    for d in (lab / 'visible', lab / 'thermal', lab / 'labels', pairs / 'vi', pairs / 'ir'):
        d.mkdir(parents=True)
    for i in range(n):
        vis = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        th = rng.integers(0, 256, (size, size), dtype=np.uint8)
        cv2.imwrite(str(lab / 'visible' / f'f{i}.png'), vis)
        cv2.imwrite(str(lab / 'thermal' / f'f{i}.png'), th)
        cv2.imwrite(str(lab / 'labels' / f'f{i}.png'), (th > 127).astype(np.uint8))
        cv2.imwrite(str(pairs / 'vi' / f'p{i}.png'), vis)
        cv2.imwrite(str(pairs / 'ir' / f'p{i}.png'), th)
    return lab, pairs


def test_search_loss_command_searches_then_retrains_and_resumes(tmp_path, capsys):
    from training.checkpoint import load_checkpoint, load_fusion_model
    from training.caf.cli import main

    lab, pairs = _write_sets(tmp_path)
    args = [
        '--config',
        str(REPO / 'config' / 'training' / 'caf_search.yaml'),
        '--data-root',
        str(lab),
        '--output',
        str(tmp_path / 'out'),
        '--retrain-data-root',
        str(pairs),
        '--no-progress',
        '--set',
        'data.crop=24',
        '--set',
        'data.batch_size=2',
        '--set',
        'task.num_classes=2',
        '--set',
        'model.backbone_kwargs={width: 4, growth: 4, layers: 1, blocks: 1}',
        '--set',
        'task.width=4',
        '--set',
        'search.epochs=1',
        '--set',
        'search.max_steps_per_epoch=1',
        '--retrain-set',
        'data.list_file=null',
        '--retrain-set',
        'data.crop=24',
        '--retrain-set',
        'data.batch_size=2',
        '--retrain-set',
        'epochs=1',
        '--retrain-set',
        'max_steps_per_epoch=1',
        '--retrain-set',
        'grid_samples=0',
        '--retrain-set',
        'model.backbone_kwargs={width: 4, growth: 4, layers: 1, blocks: 1}',
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert 'ssvif_search_loss: beta' in out and 'retrained 1 epoch(s)' in out
    assert (tmp_path / 'out' / 'search' / 'beta.yaml').is_file()
    beta_yaml = tmp_path / 'out' / 'search' / 'beta.yaml'
    beta_yaml.rename(tmp_path / 'moved.yaml')  # the checkpoint carries its loss inline
    model, spec = load_fusion_model(tmp_path / 'out' / 'retrain' / 'last.pt')
    assert spec['backbone'] == 'dense_residual' and spec['in_channels'] == 1
    ckpt_cfg = load_checkpoint(tmp_path / 'out' / 'retrain' / 'last.pt')['config']
    assert ckpt_cfg['framework'] == 'caf' and list(ckpt_cfg['framework_options']) == ['loss']
    (tmp_path / 'moved.yaml').rename(beta_yaml)
    assert main(args + ['--resume', 'auto']) == 0
    assert 'search already finished' in capsys.readouterr().out
    assert main(args[:2] + ['--set', 'search.epochs=0']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'search.epochs' in err[0]
    assert main(['--data-root', str(tmp_path / 'missing'), '--output', str(tmp_path / 'o2'),
                 '--set', 'data.kind=synthetic_folder']) == 2


def test_task_networks_give_logits_at_input_size():
    from types import SimpleNamespace

    from training.caf.build import build_task_model

    for model in ('compact', 'tiny'):
        net = build_task_model(SimpleNamespace(model=model, width=4, num_classes=3))
        with torch.no_grad():
            assert net(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32), model
