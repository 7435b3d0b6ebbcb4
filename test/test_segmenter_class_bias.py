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

"""The mask's operating point: logit offsets before the argmax, in PyTorch and in the graph."""
import json

import numpy as np
import pytest
from ros2_ssvif.classes import FMB_CLASSES
from ros2_ssvif.errors import ConfigError
from ros2_ssvif.model_runner import FusionSegmenter
import torch
from training.export import export_onnx
from training.export.cli import main as export_main
from training.models import build_fusion_model
from training.segmenter import build_segmenter_net, load_segmenter, ScaledSegmenter
from training.segmenter.model import save_segmenter, SegmenterConfig

PERSON, CAR = FMB_CLASSES.index('person'), FMB_CLASSES.index('car')


class Fixed(torch.nn.Module):
    """Logits that do not depend on the image: car 1.0, person 0.6, everything else 0."""

    num_classes = len(FMB_CLASSES)

    def forward(self, x):
        out = torch.zeros(x.shape[0], self.num_classes, *x.shape[-2:])
        out[:, CAR], out[:, PERSON] = 1.0, 0.6
        return out + 0.0 * x[:, :1]


def test_the_bias_moves_the_decision_by_the_hand_computed_margin():
    """Car wins by 0.4: a person offset of 0.3 keeps car, 0.5 flips every pixel to person."""
    img = torch.rand(1, 3, 16, 16)
    names = list(FMB_CLASSES)
    for offset, expected in ((0.0, CAR), (0.3, CAR), (0.5, PERSON)):
        cfg = SegmenterConfig(class_bias={'person': offset} if offset else None)
        seg = ScaledSegmenter(Fixed(), 0.5, cfg.bias_vector())
        assert bool((seg.class_ids(img) == expected).all()), offset
        assert torch.equal(seg(img), ScaledSegmenter(Fixed(), 0.5)(img))  # the loss's logits
    cfg = SegmenterConfig(class_bias={'car': -0.5})  # the same flip by lowering car
    assert bool((ScaledSegmenter(Fixed(), 1.0, cfg.bias_vector()).class_ids(img) == PERSON).all())
    assert cfg.bias_vector()[names.index('car')] == -0.5 and cfg.bias_vector().abs().sum() == 0.5


@pytest.mark.parametrize('bias, needle', [
    ({'pedestrian': 0.5}, "unknown class 'pedestrian'"),
    ({'person': 50}, 'must be a number in'),
    ({'person': 'high'}, 'must be a number in'),
    ({'person': float('nan')}, 'must be a number in'),
    (['person'], 'must map class names'),
])
def test_a_bad_bias_is_named(bias, needle):
    with pytest.raises(ConfigError, match=needle):
        SegmenterConfig(class_bias=bias).bias_vector()


def test_the_checkpoint_keeps_the_bias_and_the_graph_applies_it(tmp_path):
    """Saved with the segmenter, loaded back, exported: ONNX Runtime ids follow the offsets."""
    torch.manual_seed(0)
    net = build_segmenter_net('context', len(FMB_CLASSES), width=8, in_channels=3)
    cfg = SegmenterConfig(variant='context', width=8, scale=0.5, class_bias={'person': 9.0},
                          flip_average=True)
    path = save_segmenter(ScaledSegmenter(net, 0.5), cfg, [], tmp_path / 'seg.pt')
    seg, loaded = load_segmenter(path)
    assert loaded.class_bias == {'person': 9.0} and seg.flip_average
    fusion = build_fusion_model('realtime', width=8, context_width=8, blocks=1,
                                context_blocks=1).eval()
    vis = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    thr = np.random.default_rng(1).random((64, 96), dtype=np.float32)
    with torch.no_grad():
        x = torch.from_numpy(vis).permute(2, 0, 1)[None].float() / 255.0
        fused = fusion(x, torch.from_numpy(thr)[None, None]).fused
        logits = seg.model(torch.nn.functional.interpolate(fused, scale_factor=0.5,
                                                           mode='bilinear'))
    gap = (logits.max(1).values - logits[:, PERSON]).max().item()
    assert gap < 9.0, 'the test needs an offset that flips every pixel'
    report = export_onnx(fusion, seg, tmp_path / 'm.onnx', 'fmb', sample_hw=(64, 96))
    assert report['class_id_agreement'] == 1.0
    _, ids = FusionSegmenter(tmp_path / 'm.onnx')(vis, thr)
    assert bool((ids == PERSON).all())
    # the command line replaces the checkpoint's offset: -9 leaves no person pixel
    from training.checkpoint import save_checkpoint
    from training.config import load_config

    tiny = load_config(None, ['model.backbone=realtime', 'model.backbone_kwargs={width: 8, '
                              'context_width: 8, blocks: 1, context_blocks: 1}'])
    save_checkpoint(tmp_path / 'f.pt', {'config': tiny.to_dict(),
                                        'models': {'fusion': fusion.state_dict()}})
    rc = export_main(['--fusion', str(tmp_path / 'f.pt'), '--segmenter', str(path),
                      '--output', str(tmp_path / 'm2.onnx'), '--class-bias', 'person=-9',
                      '--no-flip-average'])
    assert rc == 0
    runner = FusionSegmenter(tmp_path / 'm2.onnx')
    _, ids = runner(vis, thr)
    assert not bool((ids == PERSON).any())
    assert json.loads(json.dumps(runner.metadata.extra['class_bias'])) == {'person': -9.0}
    assert runner.metadata.extra['flip_average'] is False


@pytest.mark.parametrize('item, needle', [('person', 'expected NAME=OFFSET'),
                                          ('person=high', 'expected NAME=OFFSET'),
                                          ('=1', 'expected NAME=OFFSET'),
                                          ('ghost=1', "unknown class 'ghost'")])
def test_a_bad_class_bias_argument_is_one_line_exit_2(tmp_path, capsys, item, needle):
    from training.checkpoint import save_checkpoint
    from training.config import load_config

    fusion = build_fusion_model('realtime', width=8, context_width=8, blocks=1,
                                context_blocks=1).eval()
    tiny = load_config(None, ['model.backbone=realtime', 'model.backbone_kwargs={width: 8, '
                              'context_width: 8, blocks: 1, context_blocks: 1}'])
    save_checkpoint(tmp_path / 'f.pt', {'config': tiny.to_dict(),
                                        'models': {'fusion': fusion.state_dict()}})
    net = build_segmenter_net('context', len(FMB_CLASSES), width=8, in_channels=3)
    cfg = SegmenterConfig(variant='context', width=8, scale=0.5)
    seg = save_segmenter(ScaledSegmenter(net, 0.5), cfg, [], tmp_path / 'seg.pt')
    rc = export_main(['--fusion', str(tmp_path / 'f.pt'), '--segmenter', str(seg),
                      '--output', str(tmp_path / 'm.onnx'), '--class-bias', item])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and err.count('\n') == 1, err


def test_the_sweep_re_decides_logits_as_the_graph_does():
    """scripts/measure_class_bias.py: a person offset past the car margin finds the box."""
    import sys

    from evaluation.metrics.boxes import Box
    sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[1] / 'scripts'))
    from measure_class_bias import score

    logits = np.zeros((len(FMB_CLASSES), 24, 32), np.float32)  # a 64x48 image at half scale
    logits[CAR] = 1.0
    logits[PERSON, 4:20, 8:16] = 0.7  # person 0.3 behind car inside the box's cells
    boxes = {'00001N': [Box('person', 16, 8, 32, 40)]}  # 16x32 px: tall enough
    plain = score({'00001N': logits}, boxes, {})['night']['person']
    assert plain['recall_tall'] == 0.0 and plain['predicted_pixels'] == 0
    moved = score({'00001N': logits}, boxes, {'person': 0.5})['night']['person']
    assert moved['recall_tall'] == 1.0 and moved['predicted_pixels'] == 16 * 32
    assert moved['precision'] == 1.0


class Lopsided(torch.nn.Module):
    """One random 5x5 convolution: its kernels are not mirror-symmetric, so neither is its mask."""

    num_classes = len(FMB_CLASSES)

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, self.num_classes, 5, padding=2)

    def forward(self, x):
        return 20.0 * self.conv(x)


def test_flip_average_makes_the_mask_mirror_equivariant_in_torch_and_in_the_graph(tmp_path):
    """A mirrored input gives the mirrored mask only with the average (the net itself is not)."""
    torch.manual_seed(0)
    net = Lopsided().eval()
    img = torch.rand(1, 3, 64, 96)
    plain = ScaledSegmenter(net, 0.5).eval()
    averaged = ScaledSegmenter(net, 0.5, None, True).eval()
    with torch.no_grad():
        mirror = plain.class_ids(img.flip(-1)).flip(-1)
        assert (mirror != plain.class_ids(img)).float().mean() > 0.01
        assert torch.equal(averaged.class_ids(img.flip(-1)).flip(-1), averaged.class_ids(img))
        small = torch.nn.functional.interpolate(img, scale_factor=0.5, mode='bilinear')
        by_hand = 0.5 * (net(small) + net(small.flip(-1)).flip(-1))
        torch.testing.assert_close(averaged.decision_logits(small), by_hand)
    # the graph: ids equal PyTorch's, and mirroring the pair mirrors the mask
    fusion = build_fusion_model('realtime', width=8, context_width=8, blocks=1,
                                context_blocks=1).eval()
    report = export_onnx(fusion, averaged, tmp_path / 'm.onnx', 'fmb', sample_hw=(64, 96),
                         extra={'flip_average': True})
    assert report['class_id_agreement'] == 1.0
    runner = FusionSegmenter(tmp_path / 'm.onnx')
    vis = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    thr = np.random.default_rng(1).random((64, 96), dtype=np.float32)
    _, ids = runner(vis, thr)
    _, ids_m = runner(np.ascontiguousarray(vis[:, ::-1]), np.ascontiguousarray(thr[:, ::-1]))
    # the fusion network is mirror-equivariant only up to float rounding: nearly all pixels
    assert (ids_m[:, ::-1] == ids).mean() > 0.99
    assert runner.metadata.extra['flip_average'] is True
