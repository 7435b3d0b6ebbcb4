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
A SegFormer from a user's checkpoint, for the segmentation evaluation protocol.

SSVIF, MultiTaskVIF and SegMiF evaluate fused images with a SegFormer
fine-tuned from released weights (encoder frozen for the first 30 epochs).
Nothing is downloaded here; a user who has a checkpoint passes its path:

* a Hugging Face folder (``config.json`` + weights): loaded with
  ``SegformerForSemanticSegmentation.from_pretrained(local_files_only=True)``;
  a classifier for another number of classes is replaced by a new one
  (``ignore_mismatched_sizes``), the encoder and decoder weights are kept.
* a ``.pth``/``.pt`` state dict in the original SegFormer (MiT) naming, as
  SegMiF releases it (``encoder.patch_embed1.proj.weight``,
  ``encoder.block1.0.attn.kv.weight``, ``decoder.linear_c4.proj.weight``,
  ...), possibly under a prefix (``denoise_net.`` in SegMiF's fused
  network): :func:`mit_to_hf` maps it to the transformers names, splitting
  the fused ``kv`` projection into key and value (rows [0, C) are the key,
  [C, 2C) the value). The architecture (widths, depths, heads) is read from
  the shapes of the weights; the classifier is kept when its class count
  matches, otherwise left at its fresh initialisation.

The result is a :class:`training.models.segformer.SegmentationModel` (same
input normalisation and output size as the from-scratch model).

:func:`init_segformer` instead copies a checkpoint into an existing
``SegmentationModel`` (SegMiF's segmenter, which also feeds its fusion
network, option ``segmenter_checkpoint``): the two kinds above, or an
encoder-only MiT state dict as ImageNet pre-training releases it
(``patch_embed1.proj.weight``, ``block1.0.attn.kv.weight``, ...; SegMiF's
code starts from MiT-B3's), whose decoder stays as initialised. The model
keeps its architecture: every encoder weight must be in the checkpoint
with its shape (another variant is an error); the classifier is copied when
its class count matches.
"""
from __future__ import annotations

from pathlib import Path
import re

import torch
from torch import Tensor
from training.models.segformer import SEGFORMER_VARIANTS, SegmentationModel


__all__ = ['init_segformer', 'load_pretrained_segformer', 'mit_to_hf', 'segformer_weights',
           'wrap_segformer']

# MiT block parameter -> transformers (5.x) block parameter; the fused kv is split apart
_BLOCK = [
    ('attn.q.', 'attention.q_proj.'),
    ('attn.sr.', 'attention.sequence_reduction.sequence_reduction.'),
    ('attn.norm.', 'attention.sequence_reduction.layer_norm.'),
    ('attn.proj.', 'attention.o_proj.'),
    ('norm1.', 'layernorm_before.'),
    ('norm2.', 'layernorm_after.'),
    ('mlp.fc1.', 'mlp.fc1.'),
    ('mlp.dwconv.dwconv.', 'mlp.dwconv.dwconv.'),
    ('mlp.fc2.', 'mlp.fc2.'),
]


def _strip_prefix(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop whatever precedes ``encoder.``/``decoder.`` (``module.``, ``denoise_net.``, ...)."""
    out = {}
    for k, v in sd.items():
        m = re.search(r'(?:^|\.)((?:encoder|decoder)\..*)$', k)
        if m:
            out[m.group(1)] = v
    return out


def mit_to_hf(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """
    MiT/SegFormer-head names -> the installed ``SegformerForSemanticSegmentation``'s names.

    The target names are those of transformers 5.x (``segformer.stages.i.blocks.j...``, pinned in
    requirements); a weight that finds no target makes the loader fail, never load half a model.
    """
    out: dict[str, Tensor] = {}
    for k, v in _strip_prefix(sd).items():
        if m := re.match(r'encoder\.patch_embed(\d)\.(proj|norm)\.(.*)$', k):
            part = 'proj' if m.group(2) == 'proj' else 'layer_norm'
            out[f'segformer.stages.{int(m.group(1)) - 1}.patch_embeddings.{part}.{m.group(3)}'] = v
        elif m := re.match(r'encoder\.block(\d)\.(\d+)\.(.*)$', k):
            base = f'segformer.stages.{int(m.group(1)) - 1}.blocks.{m.group(2)}.'
            rest = m.group(3)
            if rest.startswith('attn.kv.'):
                key, value = v.chunk(2, dim=0)
                suffix = rest[len('attn.kv.'):]
                out[base + 'attention.k_proj.' + suffix] = key
                out[base + 'attention.v_proj.' + suffix] = value
                continue
            for a, b in _BLOCK:
                if rest.startswith(a):
                    out[base + b + rest[len(a):]] = v
                    break
        elif m := re.match(r'encoder\.norm(\d)\.(.*)$', k):
            out[f'segformer.stages.{int(m.group(1)) - 1}.layer_norm.{m.group(2)}'] = v
        elif m := re.match(r'decoder\.linear_c(\d)\.proj\.(.*)$', k):
            out[f'decode_head.linear_projections.{int(m.group(1)) - 1}.proj.{m.group(2)}'] = v
        elif m := re.match(r'decoder\.linear_fuse\.(conv|bn)\.(.*)$', k):
            part = 'linear_fuse' if m.group(1) == 'conv' else 'batch_norm'
            out[f'decode_head.{part}.{m.group(2)}'] = v
        elif m := re.match(r'decoder\.linear_pred\.(.*)$', k):
            out[f'decode_head.classifier.{m.group(1)}'] = v
    return out


def _config_from_weights(sd: dict[str, Tensor], num_classes: int):
    """Return a SegformerConfig whose widths, depths and heads match the weights' shapes."""
    from training.models.segformer import segformer_config

    hidden = [
        int(sd[f'segformer.stages.{i}.patch_embeddings.proj.weight'].shape[0]) for i in range(4)
    ]
    depths = [
        1 + max(int(k.split('.')[4]) for k in sd if k.startswith(f'segformer.stages.{i}.blocks.'))
        for i in range(4)
    ]
    dec = int(sd['decode_head.linear_fuse.weight'].shape[0])
    known = next((v for v in SEGFORMER_VARIANTS.values() if v['hidden_sizes'] == hidden), None)
    heads = known['num_attention_heads'] if known else [max(1, h // 64) for h in hidden]
    cfg = segformer_config('b0', num_classes)
    cfg.hidden_sizes, cfg.depths, cfg.num_attention_heads, cfg.decoder_hidden_size = (
        hidden,
        depths,
        heads,
        dec,
    )
    return cfg


def wrap_segformer(hf_model) -> SegmentationModel:
    """Return a SegmentationModel around an existing ``SegformerForSemanticSegmentation``."""
    model = SegmentationModel('tiny', int(hf_model.config.num_labels))
    model.segformer, model.config, model.variant = hf_model, hf_model.config, 'pretrained'
    return model


def load_pretrained_segformer(path: str | Path, num_classes: int) -> SegmentationModel:
    """
    Load a SegmentationModel from a Hugging Face folder or a MiT-named state dict.

    See module doc.
    """
    from transformers import SegformerForSemanticSegmentation

    p = Path(path)
    if p.is_dir():
        if not (p / 'config.json').is_file():
            raise ValueError(f'{p}: a Hugging Face checkpoint folder needs config.json')
        hf = SegformerForSemanticSegmentation.from_pretrained(
            str(p),
            local_files_only=True,
            num_labels=num_classes,
            ignore_mismatched_sizes=True,
            id2label={i: str(i) for i in range(num_classes)},
            label2id={str(i): i for i in range(num_classes)},
        )
        return wrap_segformer(hf)
    if not p.is_file():
        raise ValueError(f'segmenter checkpoint not found: {p}')
    sd = torch.load(p, map_location='cpu', weights_only=True)
    if isinstance(sd, dict) and isinstance(sd.get('state_dict'), dict):
        sd = sd['state_dict']
    mapped = mit_to_hf(sd) if isinstance(sd, dict) else {}
    if 'decode_head.linear_fuse.weight' not in mapped or not any(
        'stages.3.patch' in k for k in mapped
    ):
        raise ValueError(
            f'{p}: not a SegFormer state dict in MiT naming (encoder.* / decoder.* keys)'
        )
    hf = SegformerForSemanticSegmentation(_config_from_weights(mapped, num_classes))
    own = hf.state_dict()
    keep = {k: v for k, v in mapped.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in keep and not k.startswith('decode_head.classifier')]
    if missing:
        raise ValueError(f'{p}: {len(missing)} SegFormer weight(s) missing after the key map, '
                         f'e.g. {missing[0]}')
    hf.load_state_dict(keep, strict=False)
    return wrap_segformer(hf)


def _encoder_only(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Name an encoder-only MiT state dict's weights ``encoder.*`` (from its first stage part)."""
    out = {}
    for k, v in sd.items():
        parts = k.split('.')
        i = next((i for i, x in enumerate(parts)
                  if re.fullmatch(r'(patch_embed|block|norm)\d', x)), None)
        if i is not None:
            out['encoder.' + '.'.join(parts[i:])] = v
    return out


def segformer_weights(path: str | Path) -> dict[str, Tensor]:
    """
    Return a checkpoint's SegFormer weights under the transformers names (no model built).

    A Hugging Face folder, a MiT-named SegFormer state dict (under any
    prefix) or an encoder-only MiT state dict (its ImageNet ``head.*`` dropped).
    """
    p = Path(path)
    if p.is_dir():
        from transformers import SegformerForSemanticSegmentation

        if not (p / 'config.json').is_file():
            raise ValueError(f'{p}: a Hugging Face checkpoint folder needs config.json')
        return SegformerForSemanticSegmentation.from_pretrained(
            str(p), local_files_only=True).state_dict()
    if not p.is_file():
        raise ValueError(f'segmenter checkpoint not found: {p}')
    sd = torch.load(p, map_location='cpu', weights_only=True)
    if isinstance(sd, dict) and isinstance(sd.get('state_dict'), dict):
        sd = sd['state_dict']
    if not isinstance(sd, dict):
        raise ValueError(f'{p}: not a state dict')
    if not _strip_prefix(sd):  # encoder-only MiT (ImageNet): no encoder. prefix
        sd = _encoder_only(sd)
    mapped = mit_to_hf(sd)
    if not any(k.startswith('segformer.') for k in mapped):
        raise ValueError(f'{p}: no SegFormer (MiT) weights found')
    return mapped


def init_segformer(model: SegmentationModel, path: str | Path) -> dict[str, int]:
    """
    Copy the checkpoint at ``path`` into ``model`` (see module doc); return what was copied.

    The counts of copied ``encoder``, ``decoder`` and ``classifier`` tensors.
    """
    ckpt = segformer_weights(path)
    own = model.segformer.state_dict()
    parts = {'encoder': [], 'decoder': [], 'classifier': []}
    for k in own:
        part = ('encoder' if k.startswith('segformer.') else
                'classifier' if k.startswith('decode_head.classifier.') else 'decoder')
        parts[part].append(k)

    def fits(k: str) -> bool:
        return k in ckpt and tuple(ckpt[k].shape) == tuple(own[k].shape)

    bad = [k for k in parts['encoder'] if not fits(k)]
    if bad:
        k = bad[0]
        got = tuple(ckpt[k].shape) if k in ckpt else 'nothing'
        raise ValueError(f'{path}: the SegFormer encoder does not match the model '
                         f'(variant {model.variant!r}): {k} is {tuple(own[k].shape)}, the '
                         f'checkpoint has {got}')
    dec = [k for k in parts['decoder'] if fits(k)]
    if dec and len(dec) != len(parts['decoder']):
        k = next(k for k in parts['decoder'] if not fits(k))
        raise ValueError(f'{path}: the SegFormer decoder does not match the model at {k}')
    cls = [k for k in parts['classifier'] if fits(k)]
    cls = cls if len(cls) == len(parts['classifier']) else []
    take = parts['encoder'] + dec + cls
    model.segformer.load_state_dict({k: ckpt[k] for k in take}, strict=False)
    return {'encoder': len(parts['encoder']), 'decoder': len(dec), 'classifier': len(cls)}
