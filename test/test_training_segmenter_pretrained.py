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
External SegFormer checkpoints for the evaluation protocol.

A Hugging Face folder and a SegMiF-style state dict in the original MiT naming (both built
here; nothing is downloaded).
"""
from __future__ import annotations

import re

import pytest
import torch
from training.models.pretrained_segformer import load_pretrained_segformer, mit_to_hf
from training.models.segformer import SegmentationModel
from training.segmenter import load_segmenter, SegmenterConfig, train_segmenter


def _to_mit(sd: dict) -> dict:
    """
    Map transformers names -> MiT names, as SegMiF's WeTr saves them.

    Under ``denoise_net.``.
    """
    out = {}
    block = {
        'layernorm_before': 'norm1',
        'layernorm_after': 'norm2',
        'attention.q_proj': 'attn.q',
        'attention.o_proj': 'attn.proj',
        'attention.sequence_reduction.sequence_reduction': 'attn.sr',
        'attention.sequence_reduction.layer_norm': 'attn.norm',
        'mlp.fc1': 'mlp.fc1',
        'mlp.fc2': 'mlp.fc2',
        'mlp.dwconv.dwconv': 'mlp.dwconv.dwconv',
    }
    for k, v in sd.items():
        if m := re.match(r'segformer\.stages\.(\d)\.patch_embeddings\.(proj|layer_norm)\.(.*)', k):
            out[
                f'encoder.patch_embed{int(m[1]) + 1}.{"proj" if m[2] == "proj" else "norm"}.{m[3]}'
            ] = v
        elif m := re.match(r'segformer\.stages\.(\d)\.blocks\.(\d+)\.(.*)\.(weight|bias)$', k):
            pre = f'encoder.block{int(m[1]) + 1}.{m[2]}.'
            if m[3] == 'attention.k_proj':
                value = sd[k.replace('k_proj', 'v_proj')]
                out[pre + f'attn.kv.{m[4]}'] = torch.cat([v, value])
            elif m[3] != 'attention.v_proj':
                out[pre + f'{block[m[3]]}.{m[4]}'] = v
        elif m := re.match(r'segformer\.stages\.(\d)\.layer_norm\.(.*)', k):
            out[f'encoder.norm{int(m[1]) + 1}.{m[2]}'] = v
        elif m := re.match(r'decode_head\.linear_projections\.(\d)\.proj\.(.*)', k):
            out[f'decoder.linear_c{int(m[1]) + 1}.proj.{m[2]}'] = v
        elif k.startswith('decode_head.linear_fuse.'):
            out['decoder.linear_fuse.conv.' + k.split('.', 2)[2]] = v
        elif k.startswith('decode_head.batch_norm.'):
            out['decoder.linear_fuse.bn.' + k.split('.', 2)[2]] = v
        elif k.startswith('decode_head.classifier.'):
            out['decoder.linear_pred.' + k.split('.', 2)[2]] = v
    return {'denoise_net.' + k: v for k, v in out.items()}


@pytest.fixture
def source():
    torch.manual_seed(0)
    model = SegmentationModel('tiny', 4).eval()
    with torch.no_grad():  # non-default BN statistics, so a lost buffer would show
        model.segformer.decode_head.batch_norm.running_mean.uniform_(-0.1, 0.1)
    return model


def test_hugging_face_folder(tmp_path, source):
    source.segformer.save_pretrained(tmp_path / 'hf')
    x = torch.rand(1, 3, 64, 64)
    loaded = load_pretrained_segformer(tmp_path / 'hf', num_classes=4).eval()
    with torch.no_grad():
        assert torch.allclose(loaded(x), source(x), atol=1e-6)
    other = load_pretrained_segformer(
        tmp_path / 'hf', num_classes=7
    )  # new classifier, same encoder
    assert other.num_classes == 7 and other(x).shape == (1, 7, 64, 64)
    enc = 'segformer.stages.1.blocks.0.attention.q_proj.weight'
    assert torch.equal(other.segformer.state_dict()[enc], source.segformer.state_dict()[enc])
    with pytest.raises(ValueError, match='config.json'):
        load_pretrained_segformer(tmp_path, 4)


def test_mit_state_dict_with_kv_split(tmp_path, source):
    mit = _to_mit(source.segformer.state_dict())
    assert 'denoise_net.encoder.block1.0.attn.kv.weight' in mit
    assert set(mit_to_hf(mit)) == set(source.segformer.state_dict())  # every weight has its target
    torch.save(mit, tmp_path / 'segmif.pth')
    loaded = load_pretrained_segformer(tmp_path / 'segmif.pth', num_classes=4).eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        assert torch.allclose(loaded(x), source(x), atol=1e-6)
    torch.save({'something': torch.zeros(1)}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='MiT naming'):
        load_pretrained_segformer(tmp_path / 'bad.pth', 4)
    with pytest.raises(ValueError, match='not found'):
        load_pretrained_segformer(tmp_path / 'none.pth', 4)


def test_protocol_starts_from_the_checkpoint_with_the_encoder_frozen(tmp_path, source):
    source.segformer.save_pretrained(tmp_path / 'hf')
    from framework_data import LabelledScenes

    fusion = torch.nn.Module()
    fusion.forward = lambda v, t: type('O', (), {'fused': v})()  # visible-only "fusion"
    cfg = SegmenterConfig(
        init_checkpoint=str(tmp_path / 'hf'),
        class_set='msrs',
        epochs=2,
        freeze_epochs=1,
        batch_size=2,
        crop=None,
        max_steps_per_epoch=1,
    )
    encoder_before = {k: v.clone() for k, v in source.segformer.segformer.state_dict().items()}
    torch.manual_seed(0)
    data = LabelledScenes(2, size=64)
    # msrs has 9 classes: the 4-class classifier is replaced, encoder and decoder kept
    cfg1 = SegmenterConfig(**{**cfg.__dict__, 'epochs': 1})
    res1 = train_segmenter(fusion, data, None, cfg1, progress=False)
    after = res1.model.model.segformer.segformer.state_dict()
    assert all(torch.equal(after[k], v) for k, v in encoder_before.items())  # frozen phase
    res = train_segmenter(fusion, data, None, cfg, tmp_path / 'seg.pt', progress=False)
    unfrozen = res.model.model.segformer.segformer.state_dict()
    assert any(not torch.equal(unfrozen[k], v) for k, v in encoder_before.items())
    model, loaded_cfg = load_segmenter(res.checkpoint)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), res.model.eval()(x), atol=1e-6)
    assert loaded_cfg.init_checkpoint == str(tmp_path / 'hf')
