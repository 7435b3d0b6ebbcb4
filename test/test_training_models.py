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
training.models: fusion backbones, decoder, seg head, SegFormer, complexity.

Sizes are tiny and seeds fixed; every test checks values, not just that
code runs. ONNX checks use the TorchScript exporter (seconds); the
torch.export-based exporter is exercised by the ``slow`` tests.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest


torch = pytest.importorskip('torch')
pytest.importorskip('kornia')

from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb  # noqa: E402, I100
from training.models import (  # noqa: E402
    available_backbones,
    build_fusion_model,
    count_macs,
    count_parameters,
    FusionModel,
    SegHead,
)
from training.models.backbones.swinfusion import (  # noqa: E402
    shifted_window_mask,
    window_partition,
    window_reverse,
)


NAMES = ['swinfusion', 'seafusion', 'realtime']
# Same operators as the full SwinFusion, a fraction of the cost: for export/ablation tests.
SMALL = {
    'swinfusion': {
        'embed_dim': 12,
        'num_heads': 2,
        'ex_depth': 2,
        'fusion_depths': (2,),
        're_depth': 2,
    }
}


def _model(name: str, in_channels: int = 3, small: bool = False) -> FusionModel:
    torch.manual_seed(0)
    return build_fusion_model(
        name, in_channels=in_channels, **(SMALL.get(name, {}) if small else {})
    ).eval()


def _pair(h: int, w: int, b: int = 1, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, 1, h, w, generator=g)


def test_registry_names():
    assert set(NAMES) | {'emma', 'segmif'} <= set(available_backbones())  # + other issues' own
    with pytest.raises(KeyError, match="unknown backbone 'unet'; known: .*realtime, seafusion"):
        build_fusion_model('unet')


@pytest.mark.parametrize('name', NAMES)
def test_odd_size_shapes_ranges_and_thermal_repeat(name):
    m = _model(name)
    vis, th = _pair(50, 70, b=2)
    with torch.no_grad():
        out = m(vis, th)
        out3 = m(vis, th.repeat(1, 3, 1, 1))
    assert out.fused.shape == (2, 3, 50, 70)
    assert out.fused.min() >= 0 and out.fused.max() <= 1
    feat_hw = (25, 35) if name == 'realtime' else (50, 70)
    assert out.features.shape == (2, m.backbone.out_channels, *feat_hw)
    assert m.out_channels == m.backbone.out_channels
    # a 1-channel thermal image is exactly the 3-channel one with equal channels
    torch.testing.assert_close(out.fused, out3.fused, rtol=0, atol=0)
    # batch items are independent (no cross-batch mixing in the window reshapes)
    with torch.no_grad():
        single = m(vis[1:], th[1:])
    torch.testing.assert_close(out.fused[1:], single.fused, rtol=1e-5, atol=1e-5)


def test_parameter_counts():
    counts = {n: count_parameters(_model(n)) for n in NAMES}
    assert 0.8e6 <= counts['swinfusion'] <= 1.2e6
    assert 0.12e6 <= counts['seafusion'] <= 0.22e6
    assert counts['realtime'] < counts['seafusion']
    # the 1-channel ablation changes only the first and last convs
    assert 0 < counts['seafusion'] - count_parameters(_model('seafusion', 1)) < 2000


def test_count_macs_exact_on_known_layers():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(800, 5)
    )
    # conv: 8 out * 3 in * 9 taps * 100 px; linear: 800 * 5
    assert count_macs(net, torch.zeros(1, 3, 10, 10)) == 8 * 3 * 9 * 100 + 800 * 5
    assert count_macs(net, torch.zeros(1, 3, 10, 10), meta=False) == 8 * 3 * 9 * 100 + 800 * 5
    assert next(net.parameters()).device.type == 'cpu'  # the meta copy left the model alone


def test_realtime_is_under_a_fifth_of_seafusion_macs_at_640x480():
    vis, th = torch.zeros(1, 3, 480, 640), torch.zeros(1, 1, 480, 640)
    sea = count_macs(_model('seafusion'), (vis, th))
    rt = count_macs(_model('realtime'), (vis, th))
    assert 45e9 < sea < 56e9  # SSVIF Table IV: 10.94 G at 256x256 -> ~51 G at 640x480
    assert rt * 5 <= sea


@pytest.mark.parametrize('name', NAMES)
def test_single_channel_keeps_visible_chroma(name):
    m = _model(name, in_channels=1, small=True)
    g = torch.Generator().manual_seed(3)
    # low-saturation visible image, so the recombined RGB stays in gamut (no clamping)
    y = 0.2 + 0.6 * torch.rand(1, 1, 34, 42, generator=g)
    cbcr = 0.5 + 0.04 * (torch.rand(1, 2, 34, 42, generator=g) - 0.5)
    vis = ycbcr_to_rgb(torch.cat([y, cbcr], 1))
    th = torch.rand(1, 1, 34, 42, generator=g)
    with torch.no_grad():
        fused = m(vis, th).fused
    assert fused.shape == (1, 3, 34, 42)
    assert fused.min() > 0 and fused.max() < 1
    fused_ycbcr = rgb_to_ycbcr(fused)
    torch.testing.assert_close(fused_ycbcr[:, 1:], rgb_to_ycbcr(vis)[:, 1:], rtol=0, atol=2e-6)
    # and the luma is what the network made, not the visible luma
    assert (fused_ycbcr[:, :1] - y).abs().max() > 0.05


def test_blend_output_starts_as_the_mean_rule():
    """
    Zero-initialised last layer: the fused luma is (Y_vis + T) / 2 exactly.

    w = 0.5, r = 0.
    """
    torch.manual_seed(0)
    m = build_fusion_model('realtime', in_channels=1, output='blend').eval()
    vis, th = _pair(40, 56)
    th = 0.05 + 0.9 * th  # away from the logit clamp (eps 1e-3)
    g = torch.Generator().manual_seed(
        4
    )  # low saturation: the recombined RGB stays in gamut (no clamp)
    y_vis = 0.2 + 0.6 * torch.rand(1, 1, 40, 56, generator=g)
    vis = ycbcr_to_rgb(
        torch.cat([y_vis, 0.5 + 0.02 * (torch.rand(1, 2, 40, 56, generator=g) - 0.5)], 1)
    )
    with torch.no_grad():
        fused = m(vis, th).fused
    torch.testing.assert_close(rgb_to_ycbcr(fused)[:, :1], 0.5 * (y_vis + th), rtol=0, atol=2e-5)
    m3 = build_fusion_model('realtime', in_channels=3, output='blend').eval()
    with torch.no_grad():
        torch.testing.assert_close(m3(vis, th).fused, (0.5 * (vis + th)).clamp(1e-3, 1 - 1e-3),
                                   rtol=0, atol=2e-6)


def test_blend_output_is_weight_map_and_logit_residual():
    """
    Hand-set decoder outputs: the blend is the weight map, shifted by the residual.

    w logit +20 -> the visible luma; -20 -> thermal; residual r shifts the
    logit: sigmoid(logit(0.5) + ln 3) = 0.75.
    """
    torch.manual_seed(0)
    m = build_fusion_model('realtime', in_channels=1, output='blend').eval()
    last = [mod for mod in m.decoder.modules() if isinstance(mod, torch.nn.Conv2d)][-1]
    assert last.out_channels == 2 * 4  # (w, r) per pixel, pixel-shuffled x2
    vis = torch.full((1, 3, 16, 16), 0.3)
    th = torch.full((1, 1, 16, 16), 0.7)
    with torch.no_grad():
        for w_logit, want in ((20.0, 0.3), (-20.0, 0.7)):
            last.bias.copy_(torch.tensor([w_logit] * 4 + [0.0] * 4))
            y = rgb_to_ycbcr(m(vis, th).fused)[:, :1]
            torch.testing.assert_close(y, torch.full_like(y, want), rtol=0, atol=1e-5)
        last.bias.copy_(torch.tensor([0.0] * 4 + [float(np.log(3.0))] * 4))
        y = rgb_to_ycbcr(
            m(torch.full((1, 3, 16, 16), 0.5), torch.full((1, 1, 16, 16), 0.5)).fused
        )[:, :1]
        torch.testing.assert_close(y, torch.full_like(y, 0.75), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match='output must be one of'):
        build_fusion_model('realtime', output='residual')


def test_refiner_starts_silent_and_adds_a_full_resolution_residual():
    torch.manual_seed(0)
    plain = build_fusion_model('realtime', in_channels=1, output='blend').eval()
    refined = build_fusion_model('realtime', in_channels=1, output='blend', refine_width=4).eval()
    refined.backbone.load_state_dict(plain.backbone.state_dict())
    refined.decoder.load_state_dict(plain.decoder.state_dict())
    vis, th = _pair(32, 40)
    with torch.no_grad():
        torch.testing.assert_close(
            refined(vis, th).fused, plain(vis, th).fused
        )  # zero-initialised
        # a hand-set refiner: +ln 3 on the logit everywhere -> 0.5 becomes 0.75
        refined.refiner[-1].bias.fill_(float(np.log(3.0)))
        y = rgb_to_ycbcr(
            refined(torch.full((1, 3, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.5)).fused
        )[:, :1]
    torch.testing.assert_close(y, torch.full_like(y, 0.75), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="refine_width needs output='blend'"):
        build_fusion_model('realtime', refine_width=4)


def test_blend_luma_model_exports_to_onnx(tmp_path):
    torch.manual_seed(0)
    m = build_fusion_model('realtime', in_channels=1, output='blend')
    for p in m.decoder.parameters():  # a trained-looking decoder, not the zero start
        torch.nn.init.normal_(p, std=0.1)
    m.eval()
    diff = _export_and_compare(
        m,
        _pair(64, 64),
        ['visible', 'thermal'],
        ['fused', 'features'],
        tmp_path / 'blend.onnx',
        [_pair(64, 64, seed=5), _pair(50, 70, b=2, seed=6)],
    )
    assert diff < 1e-4


def test_window_partition_roundtrip_and_layout():
    x = torch.arange(2 * 16 * 24 * 3, dtype=torch.float32).view(2, 16, 24, 3)
    win = window_partition(x, 8)
    assert win.shape == (2 * 2 * 3, 64, 3)
    torch.testing.assert_close(
        win[1].view(8, 8, 3), x[0, :8, 8:16]
    )  # 2nd window: top row, 2nd column
    torch.testing.assert_close(window_reverse(win, 8, 2, 16, 24), x)


def test_shifted_window_mask_values():
    mask = shifted_window_mask(16, 16, 8, 4)
    assert mask.shape == (4, 64, 64)
    assert (mask[0] == 0).all()  # the top-left window has no wrapped pixels
    # the bottom-right window holds 4 regions of 16 pixels: 4 * 16^2 allowed pairs
    assert int((mask[3] == 0).sum()) == 4 * 16 * 16
    assert int((mask[1] == 0).sum()) == 2 * 32 * 32
    assert set(mask.unique().tolist()) == {0.0, -100.0}


def _export_and_compare(model, inputs, names, out_names, path, check_inputs):
    ort = pytest.importorskip('onnxruntime')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=17,
                          input_names=names, output_names=out_names,
                          dynamic_axes={n: {0: 'B', 2: 'H', 3: 'W'} for n in names})
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    diffs = []
    for args in check_inputs:
        with torch.no_grad():
            ref = model(*args)
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = sess.run(None, {n: a.numpy() for n, a in zip(names, args)})
        for r, o in zip(ref, got):
            assert o.shape == tuple(r.shape)
            diffs.append(float(np.abs(o - r.numpy()).max()))
    return max(diffs)


@pytest.mark.parametrize('name', NAMES)
def test_fusion_model_onnx_matches_torch(name, tmp_path):
    m = _model(name, small=True)
    diff = _export_and_compare(
        m,
        _pair(64, 64),
        ['visible', 'thermal'],
        ['fused', 'features'],
        tmp_path / f'{name}.onnx',
        [_pair(64, 64, seed=5), _pair(50, 70, b=2, seed=6)],
    )
    assert diff < 1e-4


def test_seg_head_shapes_and_layers():
    torch.manual_seed(0)
    head = SegHead(32, 9).eval()
    convs = [mod for mod in head.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3), (3, 3), (1, 1)]
    assert [c.out_channels for c in convs] == [64, 64, 9]
    f = torch.rand(2, 32, 25, 35)
    assert head(f).shape == (2, 9, 25, 35)
    assert head(f, size=(50, 70)).shape == (2, 9, 50, 70)


def test_gradients_flow_from_seg_head_to_backbone_only():
    m = _model('realtime').train()
    head = SegHead(m.out_channels, 5, hidden=8).train()
    vis, th = _pair(32, 48, b=2)
    out = m(vis, th)
    labels = torch.randint(0, 5, (2, 32, 48), generator=torch.Generator().manual_seed(2))
    loss = torch.nn.functional.cross_entropy(head(out.features, size=(32, 48)), labels)
    loss.backward()
    grads = {n: p.grad for n, p in m.backbone.named_parameters()}
    assert all(g is not None for g in grads.values())
    assert torch.stack([g.abs().sum() for g in grads.values()]).min() > 0
    assert all(p.grad is None for p in m.decoder.parameters())  # the decoder is not on this path


# --- SegFormer ---------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def segformer():
    return pytest.importorskip('training.models.segformer', reason='transformers not installed')


def test_segformer_b3_config_values(segformer):
    c = segformer.segformer_config('b3', num_classes=15)
    assert c.depths == [3, 4, 18, 3]
    assert c.hidden_sizes == [64, 128, 320, 512]
    assert c.decoder_hidden_size == 768
    assert c.num_attention_heads == [1, 2, 5, 8]
    assert c.sr_ratios == [8, 4, 2, 1]
    assert c.patch_sizes == [7, 3, 3, 3]
    assert c.strides == [4, 2, 2, 2]
    assert c.mlp_ratios == [4, 4, 4, 4]
    assert c.num_channels == 3
    assert c.num_labels == 15
    b0 = segformer.segformer_config('b0', num_classes=9)
    assert (b0.depths, b0.decoder_hidden_size, b0.num_labels) == ([2, 2, 2, 2], 256, 9)
    with pytest.raises(ValueError):
        segformer.segformer_config('b9')


def test_segformer_tiny_forward_and_onnx(segformer, tmp_path):
    torch.manual_seed(0)
    m = segformer.SegmentationModel('tiny', num_classes=7).eval()
    # random-init logits are ~1e-3; enlarge them so a 1e-4 tolerance means something
    with torch.no_grad():
        m.segformer.decode_head.classifier.weight.mul_(300)
    x = torch.rand(1, 3, 50, 70, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        logits = m(x)
    assert logits.shape == (1, 7, 50, 70)
    assert logits.abs().max() > 0.3
    g = torch.Generator().manual_seed(8)
    diff = _export_and_compare(
        m,
        (torch.rand(1, 3, 64, 64),),
        ['image'],
        ['logits'],
        tmp_path / 'seg.onnx',
        [(torch.rand(1, 3, 64, 64, generator=g),), (torch.rand(2, 3, 96, 64, generator=g),)],
    )
    assert diff < 1e-4


# --- torch.export-based exporter (the default since torch 2.9): slow on 2 cores ----------------


@pytest.mark.slow
@pytest.mark.parametrize('name', NAMES)
def test_fusion_model_dynamo_onnx_dynamic_hw(name, tmp_path):
    ort = pytest.importorskip('onnxruntime')
    m = _model(name, small=True)
    dim_h, dim_w = torch.export.Dim('H', min=8, max=4096), torch.export.Dim('W', min=8, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        prog = torch.onnx.export(
            m,
            _pair(64, 64),
            dynamo=True,
            opset_version=18,
            input_names=['visible', 'thermal'],
            output_names=['fused', 'features'],
            dynamic_shapes={'visible': {2: dim_h, 3: dim_w}, 'thermal': {2: dim_h, 3: dim_w}},
        )
    prog.save(str(tmp_path / 'm.onnx'))
    sess = ort.InferenceSession(str(tmp_path / 'm.onnx'), providers=['CPUExecutionProvider'])
    for vis, th in (_pair(64, 64, seed=5), _pair(50, 70, seed=6)):
        with torch.no_grad():
            ref = m(vis, th)
        got = sess.run(None, {'visible': vis.numpy(), 'thermal': th.numpy()})
        for r, o in zip(ref, got):
            assert float(np.abs(o - r.numpy()).max()) < 1e-4
