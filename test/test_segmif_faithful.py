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
SegMiF as its paper states it (issue 19).

Poly rates for both networks and the segmentation warm-up, the resize and
brightness augmentation, the segmenter started from a checkpoint (built
here, nothing downloaded), the dynamic factor's fusion-phase L_seg history
and SoAM's keys and values from the modality tokens.
"""
from __future__ import annotations

from pathlib import Path

from framework_data import LabelledScenes
from learning_to_learn_data import one_thread  # noqa: F401 (a fixture)
import pytest
import torch
from training.checkpoint import load_checkpoint
from training.config import ConfigError, load_config
from training.data import train_transform
from training.data.transforms import RandomBrightness, RandomPairCrop, RandomPairScale
from training.frameworks import build_framework
from training.logging import ScalarLogger
from training.models.backbones.segmif import HIA, SegMiFBackbone
from training.models.pretrained_segformer import init_segformer
from training.models.segformer import SegmentationModel
from training.trainer import train


SEGMIF_YAML = Path(__file__).resolve().parents[1] / 'config' / 'training' / 'segmif.yaml'
TINY = [
    'data.batch_size=2', 'data.workers=0', 'log_every=1', 'grid_samples=0', 'device=cpu',
    'epochs=4', 'model.seg_classes=3', 'optim.lr=2e-3', 'grad_analysis=false',
    'early_stopping_patience=null',
    'model.backbone_kwargs={semantic: segformer, segformer: tiny, num_classes: 3, width: 8, '
    'growth: 4, layers: 2, heads: 2, soam_context: modality}',
]


pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors: one thread


@pytest.fixture(scope='module')
def paper():
    return build_framework(load_config(SEGMIF_YAML))


# -- a. poly rates --------------------------------------------------------------------------
def test_fusion_rate_decays_by_poly_from_1e4_to_1e8(paper):
    def poly(k):  # hand: 1e-8 + (1e-4 - 1e-8) (1 - k / 40k), over 8 x 5k fusion iterations
        return 1e-8 + (1e-4 - 1e-8) * (1 - k / 40000)

    assert paper.learning_rates(0)['fusion'] == pytest.approx(1e-4, rel=1e-12)
    assert paper.learning_rates(2500)['fusion'] == pytest.approx(poly(2500), rel=1e-12)
    # global step 16000 = round 1, its 1000th fusion step: fusion iteration 6000
    assert paper.learning_rates(16000)['fusion'] == pytest.approx(poly(6000), rel=1e-12)
    # a segmentation step leaves the fusion rate where its last iteration put it
    assert paper.learning_rates(9000)['fusion'] == pytest.approx(poly(5000), rel=1e-12)
    assert paper.learning_rates(8 * 15000)['fusion'] == pytest.approx(1e-8, rel=1e-12)


# -- b. segmentation warm-up ----------------------------------------------------------------
def test_segmentation_warm_up_then_poly_from_8e5(paper):
    assert paper.learning_rates(5000 + 100)['seg'] == 1e-6  # seg iteration 100: warm-up
    assert paper.learning_rates(5000 + 2999)['seg'] == 1e-6
    assert paper.learning_rates(5000 + 3000)['seg'] == pytest.approx(8e-5, rel=1e-12)
    # round 2, seg iteration 2 x 10k + 500: poly over the 77k iterations after the warm-up
    k = 2 * 10000 + 500
    assert paper.learning_rates(2 * 15000 + 5000 + 500)['seg'] == pytest.approx(
        8e-5 * (1 - (k - 3000) / 77000), rel=1e-12)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """2 steps an epoch, one phase an epoch: fusion, seg, fusion, seg (round 0 with L_seg)."""
    out = tmp_path_factory.mktemp('segmif')
    cfg = load_config(SEGMIF_YAML, TINY + [
        f'output_dir={out}',
        'framework_options={fusion_steps: 2, seg_steps: 2, rounds: 2, seg_warmup_steps: 1, '
        'first_round_fusion_only: false, seg_lr: 1.0e-3}'])
    data = LabelledScenes(4, size=32), LabelledScenes(2, size=32, seed=1)
    res = train(cfg, progress=False, datasets=data)
    rows = ScalarLogger(res.scalars_csv).read()
    steps = {}
    for r in rows:
        if r['scope'] == 'step':
            steps.setdefault(int(r['step']), {})[r['key']] = float(r['value'])
    return res, steps


def test_training_sets_both_optimizers_to_the_scheduled_rates(run):
    _, steps = run
    f = [1e-8 + (2e-3 - 1e-8) * (1 - k / 4) for k in range(4)]  # 2 rounds x 2 fusion steps
    fusion = [f[0], f[1], None, None, f[2], f[3], None, None]
    seg = [None, None, 1e-6, 1e-3, None, None, 1e-3 * 2 / 3, 1e-3 * 1 / 3]
    for step in range(8):
        if fusion[step] is not None:
            assert steps[step]['lr'] == pytest.approx(fusion[step], rel=1e-9), step
        if seg[step] is not None:
            assert steps[step]['lr_seg'] == pytest.approx(seg[step], rel=1e-9), step


# -- e. the dynamic factor's history ----------------------------------------------------------
def test_dynamic_factor_history_holds_fusion_phase_l_seg_only(run):
    res, steps = run
    history = load_checkpoint(res.last_checkpoint)['weighting']['history']

    def mean(key, at):
        return sum(steps[s][key] for s in at) / len(at)

    fusion_epochs = [(0, 1), (4, 5)]  # epochs 1 and 3; epochs 2 and 4 train the segmenter
    assert history['seg'] == pytest.approx([mean('L_seg', e) for e in fusion_epochs])
    assert history['fusion'] == pytest.approx([mean('L_fusion', e) for e in fusion_epochs])
    assert all('L_seg' in steps[s] for s in (2, 3, 6, 7))  # the segmentation phase's own CE


def test_weighting_losses_pick_the_fusion_phase_means(paper):
    means = {'train_L_fusion': 1.0, 'train_L_seg': 5.0, 'train_loss_seg_fusion_phase': 2.0}
    assert paper.weighting_losses(means, 1) == {'fusion': 1.0, 'seg': 2.0}
    assert paper.weighting_losses({'train_L_seg': 5.0}, 1) == {}  # a segmentation-phase epoch


# -- c. augmentation --------------------------------------------------------------------------
def _sample(h=40, w=60):
    lab = torch.zeros(h, w, dtype=torch.long)
    lab[:, w // 2:] = 2
    return {'visible': torch.full((3, h, w), 0.5), 'thermal': torch.rand(1, h, w),
            'label': lab, 'name': 'x'}


def test_random_scale_between_half_and_double():
    scale = RandomPairScale(0.5, 2.0, generator=torch.Generator().manual_seed(0))
    heights = []
    for _ in range(200):
        out = scale(_sample())
        h, w = out['label'].shape
        assert out['visible'].shape[-2:] == out['thermal'].shape[-2:] == (h, w)
        assert 20 <= h <= 80 and 30 <= w <= 120 and abs(w / h - 1.5) < 0.05
        assert set(out['label'].unique().tolist()) <= {0, 2}
        heights.append(h)
    assert min(heights) < 24 and max(heights) > 74  # the whole range is drawn


def test_brightness_shifts_the_visible_image_only():
    bright = RandomBrightness(0.2, p=1.0, generator=torch.Generator().manual_seed(0))
    shifts = set()
    for _ in range(50):
        s = _sample()
        out = bright(s)
        d = out['visible'] - s['visible']
        assert torch.allclose(d, d.flatten()[0].expand_as(d)) and abs(float(d[0, 0, 0])) <= 0.2
        assert torch.equal(out['thermal'], s['thermal']) and torch.equal(out['label'], s['label'])
        shifts.add(round(float(d[0, 0, 0]), 4))
    assert len(shifts) > 40
    assert RandomBrightness(0.2, p=0.0)(s) is s


def test_segmif_config_scales_and_distorts_before_its_360_crop():
    cfg = load_config(SEGMIF_YAML)
    tf = train_transform(cfg.data)
    kinds = [type(t) for t in tf.transforms]
    assert kinds == [RandomPairScale, RandomBrightness, RandomPairCrop]
    assert (tf.transforms[0].low, tf.transforms[0].high) == (0.5, 2.0)
    assert tf.transforms[1].delta == pytest.approx(32 / 255, abs=1e-5)
    torch.manual_seed(0)
    out = tf(_sample(600, 800))
    assert out['visible'].shape == (3, 360, 360) and out['label'].shape == (360, 360)
    assert type(train_transform(load_config(None).data)) is RandomPairCrop  # SSVIF: crop alone
    with pytest.raises(ConfigError, match='data.augment'):
        load_config(SEGMIF_YAML, ['data.augment={scale: [2.0, 0.5]}'])
    with pytest.raises(ConfigError, match='data.augment'):
        load_config(SEGMIF_YAML, ['data.augment={flip: true}'])


# -- d. segmenter from a checkpoint -----------------------------------------------------------
def _tiny_checkpoint(tmp_path):
    torch.manual_seed(123)
    src = SegmentationModel('tiny', 3)
    src.segformer.save_pretrained(tmp_path / 'hf')
    return src


def test_segmenter_starts_from_the_checkpoint(tmp_path):
    src = _tiny_checkpoint(tmp_path)
    cfg = load_config(SEGMIF_YAML, TINY + [
        f'framework_options={{segmenter_checkpoint: {tmp_path / "hf"}}}'])
    seg = build_framework(cfg).build_modules()['fusion'].backbone.segmenter
    want = src.segformer.state_dict()
    got = seg.segformer.state_dict()
    assert set(got) == set(want)
    assert all(torch.equal(got[k], v) for k, v in want.items())
    fresh = build_framework(load_config(SEGMIF_YAML, TINY)).build_modules()
    key = 'segformer.stages.0.patch_embeddings.proj.weight'
    assert not torch.equal(fresh['fusion'].backbone.segmenter.segformer.state_dict()[key],
                           want[key])
    with pytest.raises(ConfigError, match='segmenter_checkpoint'):
        load_config(SEGMIF_YAML, ['framework_options={segmenter_checkpoint: /no/such.pth}'])


def test_segmenter_from_an_encoder_only_mit_checkpoint(tmp_path):
    from test_training_segmenter_pretrained import _to_mit

    src = _tiny_checkpoint(tmp_path)
    prefix = 'denoise_net.encoder.'
    mit = {k[len(prefix):]: v for k, v in _to_mit(src.segformer.state_dict()).items()
           if k.startswith(prefix)}
    mit['head.weight'] = torch.zeros(1000, 64)  # an ImageNet classifier, not taken
    torch.save(mit, tmp_path / 'mit_tiny.pth')
    torch.manual_seed(7)
    model = SegmentationModel('tiny', 5)
    decoder_before = {k: v.clone() for k, v in model.segformer.decode_head.state_dict().items()}
    assert init_segformer(model, tmp_path / 'mit_tiny.pth')['decoder'] == 0
    enc, src_enc = model.segformer.segformer.state_dict(), src.segformer.segformer.state_dict()
    assert all(torch.equal(enc[k], v) for k, v in src_enc.items())
    dec = model.segformer.decode_head.state_dict()
    assert all(torch.equal(dec[k], v) for k, v in decoder_before.items())
    with pytest.raises(ValueError, match='encoder does not match'):
        init_segformer(SegmentationModel('b0', 3), tmp_path / 'hf')


# -- f. SoAM ----------------------------------------------------------------------------------
def test_soam_reads_keys_and_values_from_the_modality_tokens():
    torch.manual_seed(0)
    hia = HIA(8, heads=2, soam_context='modality')
    seen = {}
    for k in ('ir', 'vis', 'seg'):
        hia.embed[k].register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(k, o))
    for k in ('ir', 'vis'):
        hia.soam[k].register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(f'soam_{k}', i))
    hia(*[torch.randn(1, 8, 4, 5) for _ in range(3)])
    for k in ('ir', 'vis'):  # Q from F_seg^s, K and V from F_k^m (Sec. 3.2's prose)
        assert seen[f'soam_{k}'][0] is seen['seg'][0] and seen[f'soam_{k}'][1] is seen[k][1]
    kw = load_config(SEGMIF_YAML).model.backbone_kwargs
    assert kw['soam_context'] == 'modality'
    net = SegMiFBackbone(width=8, growth=4, layers=2, heads=2, soam_context='modality')
    assert [h.soam_context for h in net.hia] == ['modality', 'modality']
    assert SegMiFBackbone(width=8, growth=4, layers=2, heads=2).hia[0].soam_context == 'semantic'
    with pytest.raises(ValueError, match='soam_context'):
        HIA(8, soam_context='value')
