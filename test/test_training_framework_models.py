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
New networks on hand-computed values.

Context cross-attention (formula, masking), HIA-F's query/key order, the multi-task head,
EMMA's U-Fuser, SegMiF's DRDB and HIA, the U-Net, sizes.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn
from training.config import load_config
from training.models import (
    build_fusion_model,
    count_macs,
    count_parameters,
    fusion_model_from_config,
)
from training.models.attention import ContextCrossAttention, to_map, to_tokens
from training.models.backbones.segmif import DRDB, HIA, SegMiFBackbone
from training.models.multitask import HIAF, MultiTaskFusionModel
from training.models.unet import UNet


def _identity_attention(c: int, heads: int = 1) -> ContextCrossAttention:
    att = ContextCrossAttention(c, heads)
    with torch.no_grad():
        for lin in (att.q, att.k, att.v, att.out):
            lin.weight.copy_(torch.eye(c))
            lin.bias.zero_()
    return att


def test_context_attention_matches_the_formula_by_hand():
    att = _identity_attention(2)
    q = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])              # 2 query tokens
    ctx = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 3.0]]])  # 3 context tokens
    # softmax over tokens of each key channel: channel 0 uniform, channel 1 mostly the third token
    e3 = torch.exp(torch.tensor(3.0))
    k1 = torch.tensor([1.0, 1.0, e3]) / (2 + e3)
    # G[i, j] = sum_n softmax_n(k)[n, i] * v[n, j]; v = ctx
    g = torch.tensor([[0.0, 3.0 / 3], [0.0, 3.0 * k1[2]]])
    qs = torch.tensor(
        [[0.5, 0.5], [torch.e / (1 + torch.e), 1 / (1 + torch.e)]]
    )  # softmax over channels
    expected = qs @ g
    assert torch.allclose(att(q, ctx)[0], expected, atol=1e-6)


def test_masked_context_tokens_are_as_if_absent_and_heads_split_channels():
    torch.manual_seed(0)
    att = ContextCrossAttention(8, heads=2)
    q, ctx = torch.randn(2, 5, 8), torch.randn(2, 7, 8)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[:, 4:] = False
    masked = att(q, ctx, mask)
    assert torch.allclose(masked, att(q, ctx[:, :4]), atol=1e-6)
    assert not torch.allclose(masked, att(q, ctx), atol=1e-4)
    assert att(q, ctx).shape == (2, 5, 8)
    with pytest.raises(ValueError, match='divisible'):
        ContextCrossAttention(6, heads=4)
    with pytest.raises(ValueError, match='context_mask'):
        att(q, ctx, mask[:, :3])


def test_tokens_round_trip():
    x = torch.arange(24.0).reshape(1, 2, 3, 4)
    t = to_tokens(x)
    assert t.shape == (1, 12, 2) and t[0, 5].tolist() == [5.0, 17.0]
    assert torch.equal(to_map(t, 3, 4), x)


def test_hiaf_queries_and_keys_in_the_papers_order():
    """C_h: query t_s^h, key/value t_r^h; C_l: query t_r^l, key/value t_s^l (MultiTaskVIF 3.3)."""
    torch.manual_seed(0)
    hia = HIAF(8, heads=2)
    seen = {}
    hia.embed_seg.register_forward_hook(lambda m, i, o: seen.__setitem__('seg', o))
    hia.embed_re.register_forward_hook(lambda m, i, o: seen.__setitem__('re', o))
    hia.cross_high.register_forward_hook(lambda m, i, o: seen.__setitem__('high', i))
    hia.cross_low.register_forward_hook(lambda m, i, o: seen.__setitem__('low', i))
    f_re, f_seg = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    out = hia(f_re, f_seg)
    assert out.shape == f_re.shape
    assert seen['high'][0] is seen['seg'][0] and seen['high'][1] is seen['re'][0]
    assert seen['low'][0] is seen['re'][1] and seen['low'][1] is seen['seg'][1]


def _mtl(backbone, extra=()):
    cfg = load_config(
        None, [f'model.backbone={backbone}', 'model.decoder=mth', 'model.seg_classes=5', *extra]
    )
    return fusion_model_from_config(cfg.model)


def test_multitask_head_outputs_image_and_logits_at_image_size():
    rt = 'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}'
    for backbone, extra in (
        ('realtime', [rt]),
        ('emma', ['model.backbone_kwargs={widths: [4, 4, 8, 8]}']),
        ('seafusion', ['model.backbone_kwargs={widths: [4, 8, 8]}']),
    ):
        m = _mtl(backbone, extra)
        assert isinstance(m, MultiTaskFusionModel) and m.decoder.hia is not None
        out, seg = m.forward_tasks(torch.rand(2, 3, 34, 30), torch.rand(2, 1, 34, 30))
        assert out.fused.shape == (2, 3, 34, 30) and seg.shape == (2, 5, 34, 30), backbone
    no_hia = _mtl('realtime', [rt, 'model.decoder_kwargs={hia: false}'])
    assert no_hia.decoder.hia is None
    # blend output: the image tail's last conv starts at zero, so the model starts as the mean rule
    blend = _mtl('realtime', [rt, 'model.output=blend'])
    vis, th = torch.rand(1, 3, 16, 16) * 0.8 + 0.1, torch.rand(1, 1, 16, 16) * 0.8 + 0.1
    assert torch.allclose(blend(vis, th).fused, 0.5 * (vis + th), atol=1e-6)
    single = _mtl('realtime', [rt, 'model.in_channels=1'])
    out, seg = single.forward_tasks(vis, th)
    assert out.fused.shape == (1, 3, 16, 16) and seg.shape == (1, 5, 16, 16)


def test_emma_ufuser_size_and_padding():
    m = build_fusion_model('emma', in_channels=1)
    assert count_parameters(m) == pytest.approx(1.52e6, rel=0.01)  # SSVIF Table IV: 1.52 M
    assert count_macs(m, (torch.rand(1, 3, 256, 256), torch.rand(1, 1, 256, 256))) == \
        pytest.approx(8.62e9, rel=0.02)  # SSVIF Table IV: 8.62 G (multiply-accumulates)
    small = build_fusion_model('emma', in_channels=3, widths=(4, 4, 8, 8), heads=2)
    out = small(torch.rand(2, 3, 37, 45), torch.rand(2, 1, 37, 45))
    assert out.fused.shape == (2, 3, 37, 45) and out.features.shape == (2, 4, 40, 48)


def test_drdb_widths_and_residual():
    d = DRDB(8, growth=4, layers=3)
    # dilated 3x3 convs reading 8, 12, 16 channels, each adding 4; a 1x1 from 20 back to 8
    assert [c.in_channels for c in d.convs] == [8, 12, 16] and d.convs[0].dilation == (2, 2)
    assert count_parameters(d) == sum(9 * c * 4 + 4 for c in (8, 12, 16)) + 20 * 8 + 8
    for p in d.fuse.parameters():
        nn.init.zeros_(p)
    x = torch.randn(1, 8, 9, 9)
    assert torch.equal(d(x), x)  # zero 1x1: the block is the identity (residual)


def test_segmif_hia_semantic_queries_and_modality_queries():
    torch.manual_seed(0)
    hia = HIA(8, heads=2)
    seen = {}
    for k in ('ir', 'vis', 'seg'):
        hia.embed[k].register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(k, o))
    for k in ('ir', 'vis'):
        hia.soam[k].register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(f'soam_{k}', i))
        hia.moam[k].register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(f'moam_{k}', i))
    f = [torch.randn(1, 8, 4, 5) for _ in range(3)]
    ir, vis = hia(*f)
    assert ir.shape == vis.shape == (1, 8, 4, 5)
    for k in (
        'ir',
        'vis',
    ):  # SoAM: Q from F_seg^s, K/V from F_k^s; MoAM: Q from F_k^m, K/V from F_seg^m
        assert seen[f'soam_{k}'][0] is seen['seg'][0] and seen[f'soam_{k}'][1] is seen[k][0]
        assert seen[f'moam_{k}'][0] is seen[k][1] and seen[f'moam_{k}'][1] is seen['seg'][1]


def test_segmif_backbone_semantics():
    conv = SegMiFBackbone(in_channels=1, width=8, growth=4, layers=2, heads=2)
    assert conv.segmenter is None
    seg = SegMiFBackbone(in_channels=1, width=8, growth=4, layers=2, heads=2, semantic='segformer',
                         segformer='tiny', num_classes=4)
    assert seg.segmenter is not None and seg.segmenter.num_classes == 4
    vis, th = torch.rand(2, 1, 32, 40), torch.rand(2, 1, 32, 40)
    assert torch.equal(seg.prior_image(vis, th), (0.5 * (vis + th)).expand(-1, 3, -1, -1))
    assert conv(vis, th).shape == seg(vis, th).shape == (2, 16, 32, 40)
    with pytest.raises(ValueError, match='semantic'):
        SegMiFBackbone(semantic='none')


def test_unet_pads_and_crops():
    u = UNet(1, width=4, depth=3)
    with torch.no_grad():
        y = u(torch.rand(2, 1, 13, 22))
    assert y.shape == (2, 1, 13, 22) and float(y.min()) > 0 and float(y.max()) < 1
    with pytest.raises(ValueError):
        UNet(1, depth=1)
