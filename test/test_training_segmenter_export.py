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

"""The node's segmenter and the one-graph export, checked through ONNX Runtime."""
import numpy as np
import pytest
from ros2_ssvif.model_runner import FusionSegmenter
import torch
from training.checkpoint import CheckpointError, save_checkpoint
from training.export import DeployGraph, export_onnx, ExportError
from training.models import build_fusion_model
from training.models.segformer import SegmentationModel
from training.segmenter import (
    load_segmenter,
    ScaledSegmenter,
    SegmenterConfig,
    train_segmenter,
)


TINY_FUSION = {'width': 8, 'context_width': 8, 'blocks': 1, 'context_blocks': 1}


class Squares(torch.utils.data.Dataset):
    """Bright squares are class 9 (car), the rest class 1 (road): learnable in a few steps."""

    def __init__(self, n=8, size=48, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            lab = torch.ones(size, size, dtype=torch.long)
            y, x = (int(v) for v in torch.randint(0, size - 16, (2,), generator=g))
            lab[y:y + 16, x:x + 16] = 9
            vis = torch.full((3, size, size), 0.2)
            vis[:, lab == 9] = 0.9
            self.items.append({'visible': vis, 'thermal': vis[:1].clone(), 'label': lab})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Identity(torch.nn.Module):
    """Return the visible image as the fused one (keeps the segmenter test about the segmenter)."""

    def forward(self, visible, thermal):
        return type('Out', (), {'fused': visible})()


@pytest.mark.parametrize('variant', ['tiny', 'compact'])
def test_segmenter_learns_and_round_trips(tmp_path, variant):
    torch.manual_seed(0)
    cfg = SegmenterConfig(
        variant=variant,
        epochs=12,
        batch_size=4,
        freeze_epochs=0,
        lr=3e-3,
        crop=None,
        patience=12,
        scale=0.5,
    )
    res = train_segmenter(
        Identity(),
        Squares(16, size=64),
        Squares(4, size=64, seed=1),
        cfg,
        tmp_path / 'seg.pt',
        progress=False,
    )
    losses = [h['loss'] for h in res.history]
    assert losses[-1] < 0.5 * losses[0], losses
    model, cfg2 = load_segmenter(res.checkpoint)
    assert cfg2.scale == 0.5 and cfg2.num_classes == 15 and isinstance(model, ScaledSegmenter)
    x = Squares(1, size=64, seed=3)[0]['visible'][None]
    with torch.no_grad():
        assert torch.equal(model(x).argmax(1), res.model.eval()(x).argmax(1))
        # logits back at full size after segmenting at half
        assert model(x).shape == (1, 15, 64, 64)


def test_frozen_encoder_phase_leaves_encoder_weights_unchanged():
    cfg = SegmenterConfig(
        variant='tiny', epochs=1, batch_size=4, freeze_epochs=1, lr=1e-2, crop=None
    )
    torch.manual_seed(0)
    before = SegmentationModel('tiny', 15).segformer.segformer.state_dict()
    torch.manual_seed(0)
    res = train_segmenter(Identity(), Squares(), None, cfg, progress=False)
    after = res.model.model.segformer.segformer.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_load_segmenter_refuses_other_checkpoints(tmp_path):
    save_checkpoint(tmp_path / 'x.pt', {'kind': 'fusion', 'models': {}})
    with pytest.raises(CheckpointError, match='not a segmenter checkpoint'):
        load_segmenter(tmp_path / 'x.pt')


def _tiny_deploy_models():
    torch.manual_seed(0)
    fusion = build_fusion_model('realtime', **TINY_FUSION).eval()
    seg = ScaledSegmenter(SegmentationModel('tiny', 15), 0.5).eval()
    with torch.no_grad():  # make class ids depend on the image (random-init logits are near-ties)
        seg.model.segformer.decode_head.classifier.weight.mul_(50)
    return fusion, seg


@pytest.fixture(scope='module')
def exported_default(tmp_path_factory):
    """Export a tiny realtime + SegFormer pair with the defaults (opset 17, lowest IR)."""
    fusion, seg = _tiny_deploy_models()
    path = tmp_path_factory.mktemp('export') / 'm.onnx'
    report = export_onnx(fusion, seg, path, 'fmb', sample_hw=(64, 96),
                         extra={'fusion_backbone': 'realtime'})
    return fusion, seg, path, report


@pytest.mark.slow
def test_export_matches_pytorch_through_the_runtime(exported_default):
    fusion, seg, path, report = exported_default
    assert report['max_abs_diff_fused'] <= 1 and report['dynamic']  # grey levels (uint8 output)
    runner = FusionSegmenter(path)
    assert (
        runner.class_names[9] == 'car' and runner.metadata.extra['fusion_backbone'] == 'realtime'
    )
    assert runner.contract == 'nhwc_uint8' and not runner.notes
    rng = np.random.default_rng(0)
    vis = rng.integers(0, 256, (70, 100, 3), dtype=np.uint8)  # not a multiple of 32: padded
    thr = rng.random((70, 100), dtype=np.float32)
    fused, ids = runner(vis, thr)
    v = torch.from_numpy(np.pad(vis, ((0, 26), (0, 28), (0, 0)), mode='reflect'))[None]
    t = torch.nn.functional.pad(torch.from_numpy(thr)[None, None], (0, 28, 0, 26), mode='reflect')
    with torch.no_grad():
        ref_fused, ref_ids = DeployGraph(fusion, seg)(v, t)
    ref = ref_fused[0, :70, :100].numpy()  # the graph returns uint8 RGB (H, W, 3) itself
    assert fused.dtype == np.uint8 and fused.shape == (70, 100, 3)
    assert np.abs(fused.astype(int) - ref.astype(int)).max() <= 1
    assert (ids == ref_ids[0, :70, :100].numpy()).mean() > 0.999


@pytest.mark.slow
def test_default_export_is_what_onnx_runtime_1_16_loads(exported_default):
    """Opset 17 and IR version 8, with only the default ONNX domain and uint8 visible input."""
    import onnx

    model = onnx.load(str(exported_default[2]))
    assert model.ir_version == 8 and exported_default[3]['ir_version'] == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [('', 17)]
    assert not model.functions
    vis = model.graph.input[0].type.tensor_type
    assert vis.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value or d.dim_param for d in vis.shape.dim] == [1, 'H', 'W', 3]
    fused = model.graph.output[0].type.tensor_type  # rounded and laid out in the graph as well
    assert fused.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value or d.dim_param for d in fused.shape.dim][1:] == ['H', 'W', 3]


@pytest.mark.slow
def test_newer_opset_uses_the_dynamo_exporter_and_still_the_lowest_ir(tmp_path):
    import onnx

    fusion, seg = _tiny_deploy_models()
    report = export_onnx(fusion, seg, tmp_path / 'm18.onnx', 'fmb', sample_hw=(64, 96), opset=18)
    model = onnx.load(str(tmp_path / 'm18.onnx'))
    assert (report['opset'], report['ir_version'], model.ir_version) == (18, 8, 8)
    assert report['max_abs_diff_fused'] <= 1  # grey levels (uint8 output)


def test_export_refuses_a_class_list_mismatch(tmp_path):
    fusion = build_fusion_model('realtime', **TINY_FUSION).eval()
    with pytest.raises(ExportError, match='9 classes'):
        export_onnx(fusion, SegmentationModel('tiny', 9), tmp_path / 'm.onnx', 'fmb')


def test_segmenter_command_settings_and_errors(tmp_path, capsys):
    from training.segmenter import config_from_sets, main

    cfg = config_from_sets(['lr=3e-3', 'variant=compact', 'scale=0.5'], 'msrs')
    assert cfg.lr == pytest.approx(0.003) and cfg.class_set == 'msrs' and cfg.num_classes == 9
    with pytest.raises(ValueError, match='epochs must be a number'):
        config_from_sets(['epochs=many'])
    rc = main(
        [
            '--fusion',
            str(tmp_path / 'none.pt'),
            '--data-root',
            str(tmp_path),
            '--output',
            str(tmp_path / 's.pt'),
        ]
    )
    err = capsys.readouterr().err
    assert (
        rc == 2
        and err.startswith('ssvif_train_segmenter: checkpoint not found')
        and err.count('\n') == 1
    )


def test_class_ids_take_the_argmax_at_the_segmenter_scale_then_upsample_nearest():
    """
    What the exported graph runs: a 2-class toy segmenter at scale 0.5.

    The toy segmenter gives class 1 where red > 0.5.
    Bilinear 8 -> 4 samples between pixel pairs (0/1, 2/3, 4/5, 6/7), so the edge at column 4
    survives exactly and nearest upsampling puts it back at column 4.
    """

    class RedIsOne(torch.nn.Module):
        num_classes = 2

        def forward(self, x):
            return torch.cat([0.5 - x[:, :1], x[:, :1] - 0.5], 1)

    seg = ScaledSegmenter(RedIsOne(), 0.5)
    img = torch.zeros(1, 3, 8, 8)
    img[:, 0, :, 4:] = 1.0
    ids = seg.class_ids(img)
    assert ids.shape == (1, 8, 8) and ids.dtype == torch.long
    assert bool((ids[0, :, 4:] == 1).all()) and not bool(ids[0, :, :4].any())
    torch.testing.assert_close(ids, seg(img).argmax(1))  # same as the full-size logits here
    full = ScaledSegmenter(RedIsOne(), 1.0)
    torch.testing.assert_close(full.class_ids(img), full(img).argmax(1))


def test_export_command_errors_are_one_line_exit_2(tmp_path, capsys):
    """Defects: every error exited 1; a folder as --output was a 25-line traceback."""
    from training.export import main

    cases = [(['--output', str(tmp_path)], 'is a folder'),
             (['--output', str(tmp_path / 'm.onnx'), '--fixed-size', '640'], 'WIDTHxHEIGHT'),
             (['--output', str(tmp_path / 'm.onnx')], 'not found')]
    for extra, needle in cases:
        rc = main(['--fusion', str(tmp_path / 'none.pt'), '--segmenter', str(tmp_path / 's.pt'),
                   *extra])
        err = capsys.readouterr().err
        assert rc == 2 and needle in err and err.count('\n') == 1, err


def test_the_wrong_kind_of_file_is_named_not_misread(tmp_path):
    """Defect: a segmenter .pt as the fusion checkpoint gave 'unknown config key(s) ...'."""
    from fractions import Fraction

    from training.checkpoint import CheckpointError, load_fusion_model, save_checkpoint

    seg = save_checkpoint(tmp_path / 'seg.pt', {'kind': 'segmenter', 'config': {'crop': 256}})
    with pytest.raises(CheckpointError, match='is a segmenter checkpoint'):
        load_fusion_model(seg)
    foreign = tmp_path / 'foreign.pt'
    torch.save({'format': 1, 'obj': Fraction(1, 3)}, foreign)  # not loadable weights-only
    with pytest.raises(CheckpointError) as exc:
        load_fusion_model(foreign)
    assert 'weights_only' not in str(exc.value) and 'Python objects' in str(exc.value)


def test_a_segmenter_records_the_fusion_network_it_was_trained_on(tmp_path, capsys):
    """Defect: ssvif_export paired a segmenter with another fusion network's images silently."""
    from training.checkpoint import load_checkpoint, model_fingerprint, save_checkpoint
    from training.config import load_config
    from training.export import main

    fusion = build_fusion_model('realtime', **TINY_FUSION).eval()
    other = build_fusion_model('realtime', **TINY_FUSION).eval()
    with torch.no_grad():
        other.state_dict()[next(iter(other.state_dict()))].add_(1.0)
    assert model_fingerprint(fusion) == model_fingerprint(fusion)
    assert model_fingerprint(fusion) != model_fingerprint(other)
    cfg = SegmenterConfig(variant='tiny', epochs=1, batch_size=4, freeze_epochs=0, crop=None)
    res = train_segmenter(Identity(), Squares(4, size=32), None, cfg, tmp_path / 'seg.pt',
                          progress=False)
    assert load_checkpoint(res.checkpoint)['fusion_fingerprint'] == model_fingerprint(Identity())
    # an ssvif_train checkpoint of `fusion`, exported with a segmenter made on `other`'s images
    seg = load_checkpoint(res.checkpoint)
    seg['fusion_fingerprint'] = model_fingerprint(other)
    seg.pop('format')
    save_checkpoint(tmp_path / 'seg_other.pt', seg)
    tiny = load_config(None, ['model.backbone=realtime', 'model.backbone_kwargs={width: 8, '
                              'context_width: 8, blocks: 1, context_blocks: 1}'])
    save_checkpoint(tmp_path / 'f.pt', {'config': tiny.to_dict(),
                                        'models': {'fusion': fusion.state_dict()}})
    rc = main(['--fusion', str(tmp_path / 'f.pt'), '--segmenter', str(tmp_path / 'seg_other.pt'),
               '--output', str(tmp_path / 'm.onnx')])
    err = capsys.readouterr().err
    assert 'trained on the images of another fusion network' in err, (rc, err)


def test_a_four_channel_segmenter_sees_the_thermal_image_in_the_graph(tmp_path):
    """in_channels 4: the exported graph feeds (fused, thermal); a thermal change moves ids."""
    from training.segmenter import build_segmenter_net

    torch.manual_seed(0)
    fusion = build_fusion_model('realtime', **TINY_FUSION).eval()
    net = build_segmenter_net('context', 15, width=8, in_channels=4)
    with torch.no_grad():  # only the thermal channel decides: stem weights of RGB zeroed
        net.stem[0][0].weight[:, :3] = 0.0
        net.classifier.weight.mul_(50)
    seg = ScaledSegmenter(net, 0.5).eval()
    path = tmp_path / 'm4.onnx'
    report = export_onnx(fusion, seg, path, 'fmb', sample_hw=(64, 96))
    assert report['class_id_agreement'] == 1.0
    runner = FusionSegmenter(path)
    vis = np.full((64, 96, 3), 128, np.uint8)
    cold = np.zeros((64, 96), np.float32)
    hot = cold.copy()
    hot[16:48, 24:72] = 1.0
    _, ids_cold = runner(vis, cold)
    _, ids_hot = runner(vis, hot)
    assert (ids_cold != ids_hot).mean() > 0.05
    with torch.no_grad():
        ref = DeployGraph(fusion, seg)(torch.from_numpy(vis)[None],
                                       torch.from_numpy(hot)[None, None])[1][0].numpy()
    assert (ids_hot == ref).mean() > 0.999
