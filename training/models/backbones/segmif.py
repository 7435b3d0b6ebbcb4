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
SegMiF's fusion network (Liu et al., ICCV 2023, Sec. 3.2), written from the paper.

Per modality a 3x3 conv and a dilated residual dense block (DRDB) extract
features; hierarchical interactive attention (HIA) then exchanges them with
semantic features at the first scale, a second DRDB per modality follows,
and a second HIA uses the second scale. The two modality maps, concatenated,
are the fused features; the registered decoder (3x3 conv 2C -> C, 3x3 conv to
the image) reconstructs the image.

HIA: channel embeddings split each of F_ir, F_vis, F_seg into a semantic
token set F^s and a modality token set F^m. SoAM: the semantic query
Q_s (from F_seg^s) reads the context of each modality -> S_ir, S_vis.
MoAM: each modality query (F_ir^m, F_vis^m) reads the semantic context
(F_seg^m) -> M_ir, M_vis. [S_x, M_x] go through an MLP with a residual to
F_x and a LayerNorm (one MLP per modality). Attention is
:class:`training.models.attention.ContextCrossAttention` (the paper's
S = Q K^T V form).

Where SoAM's keys and values come from (``soam_context``): the paper's
prose (Sec. 3.2) says "the corresponding Key and Value of each head are
from the modality tokens {F_ir^m, F_vis^m}"; the authors' code
(``CrossAttention2`` in their ``core/model_fusion.py``) takes them from the
same half of the channel embedding as SoAM's query, i.e. F_ir^s, F_vis^s in
the prose's naming. ``"modality"`` follows the prose and is what
``config/training/segmif.yaml`` sets (decision of issue 19: the paper is
the specification); F_ir^s and F_vis^s then feed nothing (their half of the
embedding gets no gradient). ``"semantic"`` follows the authors' code; it
is the constructor default because it is what this network computed before
the option existed, so a checkpoint saved without the key rebuilds the
network it was trained as (MultiTaskVIF IV's ``segmif`` backbone keeps it).

Semantic features (``semantic``):

* ``"segformer"`` (SegMiF): a SegFormer; its encoder's stage-1 and stage-2
  maps (strides 4 and 8), bilinearly resized to the image and projected by
  1x1 convs, are the two scales. The same SegFormer segments the fused image
  in SegMiF's training (``segmenter`` exposes it). SegMiF feeds it the fused
  image of the previous training round, written to disk between rounds; we
  feed a parameter-free prior fused image, the mean of the two inputs, so the
  network is a function of (visible, thermal) alone and can be exported.
* ``"conv"`` (default): a small strided conv encoder on the same mean image
  provides the two scales. MultiTaskVIF IV uses "SegMiF's backbone" at 1.28 M
  parameters (its Table 7), which cannot include a SegFormer; this is our
  stand-in for what feeds HIA there.

DRDB (dilated residual dense block): ``layers`` 3x3 convs with dilation 2,
each reading the concatenation of the block input and all earlier outputs
and adding ``growth`` channels, a 1x1 conv back to C and a residual.
Defaults: C = 32, growth 32, 5 layers, 8 heads.
"""
from __future__ import annotations

import torch
from torch import nn, Tensor
import torch.nn.functional as F

from .spec import register_backbone
from ..attention import ChannelEmbedding, ContextCrossAttention, to_map, to_tokens
from ..decoder import ConvDecoder


__all__ = ['DRDB', 'HIA', 'SegMiFBackbone']


class DRDB(nn.Module):

    def __init__(self, channels: int, growth: int = 32, layers: int = 5, dilation: int = 2):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth, 3, padding=dilation, dilation=dilation)
            for i in range(layers))
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = x
        for conv in self.convs:
            feats = torch.cat([feats, F.relu(conv(feats))], dim=1)
        return x + F.relu(self.fuse(feats))


class HIA(nn.Module):
    """``forward(f_ir, f_vis, f_seg) -> (f_ir', f_vis')``, all (B, C, H, W)."""

    SOAM_CONTEXTS = ('semantic', 'modality')

    def __init__(self, channels: int, heads: int = 8, soam_context: str = 'semantic'):
        super().__init__()
        if soam_context not in self.SOAM_CONTEXTS:
            raise ValueError(
                f'soam_context must be one of {self.SOAM_CONTEXTS}, got {soam_context!r}'
            )
        self.soam_context = soam_context
        self.embed = nn.ModuleDict({k: ChannelEmbedding(channels) for k in ('ir', 'vis', 'seg')})
        self.soam = nn.ModuleDict(
            {k: ContextCrossAttention(channels, heads) for k in ('ir', 'vis')}
        )
        self.moam = nn.ModuleDict(
            {k: ContextCrossAttention(channels, heads) for k in ('ir', 'vis')}
        )
        self.mlp = nn.ModuleDict({k: nn.Linear(2 * channels, channels) for k in ('ir', 'vis')})
        self.norm = nn.ModuleDict({k: nn.LayerNorm(channels) for k in ('ir', 'vis')})

    def forward(self, f_ir: Tensor, f_vis: Tensor, f_seg: Tensor) -> tuple[Tensor, Tensor]:
        h, w = f_ir.shape[-2:]
        tokens = {'ir': to_tokens(f_ir), 'vis': to_tokens(f_vis), 'seg': to_tokens(f_seg)}
        sem, mod = {}, {}
        for k, t in tokens.items():
            sem[k], mod[k] = self.embed[k](t)
        out = []
        soam_kv = mod if self.soam_context == 'modality' else sem
        for k in ('ir', 'vis'):
            s = self.soam[k](sem['seg'], soam_kv[k])  # SoAM: semantic query, modality context
            m = self.moam[k](mod[k], mod['seg'])   # MoAM: modality query, semantic context
            y = self.norm[k](tokens[k] + self.mlp[k](torch.cat([s, m], dim=-1)))
            out.append(to_map(y, h, w))
        return out[0], out[1]


class _ConvSemantics(nn.Module):
    """Two strided conv stages (strides 4 and 8) on the prior image: light semantic features."""

    def __init__(self, widths: tuple[int, int] = (32, 64)):
        super().__init__()
        self.stage1 = nn.Sequential(
            nn.Conv2d(3, widths[0], 7, stride=4, padding=3),
            nn.ReLU(inplace=True),
            nn.Conv2d(widths[0], widths[0], 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.stage2 = nn.Sequential(nn.Conv2d(widths[0], widths[1], 3, stride=2, padding=1),
                                    nn.ReLU(inplace=True))
        self.channels = widths

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        s1 = self.stage1(image)
        return s1, self.stage2(s1)


class _SegFormerSemantics(nn.Module):
    """A SegFormer whose encoder's first two stages are the semantic features."""

    def __init__(self, variant: str = 'b3', num_classes: int = 15):
        super().__init__()
        from training.models.segformer import SegmentationModel

        self.model = SegmentationModel(variant, num_classes)
        self.channels = tuple(self.model.config.hidden_sizes[:2])

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        x = (image - self.model.mean) / self.model.std
        hidden = self.model.segformer.segformer(
            pixel_values=x, output_hidden_states=True
        ).hidden_states
        return hidden[0], hidden[1]


# SegMiF: 3x3 conv 2C -> C, then 3x3 conv to the image.
@register_backbone('segmif',
                   decoder=lambda c, out: ConvDecoder(c, (max(c // 2, 1),), out))
class SegMiFBackbone(nn.Module):
    """(visible, thermal) -> fused features (B, 2*width, H, W)."""

    SEMANTICS = ('conv', 'segformer')

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 32,
        growth: int = 32,
        layers: int = 5,
        heads: int = 8,
        semantic: str = 'conv',
        segformer: str = 'b3',
        num_classes: int = 15,
        soam_context: str = 'semantic',
    ):
        super().__init__()
        if semantic not in self.SEMANTICS:
            raise ValueError(f'semantic must be one of {self.SEMANTICS}, got {semantic!r}')
        self.in_channels = in_channels
        self.out_channels = 2 * width
        self.semantic_kind = semantic
        self.semantics = (_SegFormerSemantics(segformer, num_classes) if semantic == 'segformer'
                          else _ConvSemantics())
        c1, c2 = self.semantics.channels
        self.seg_proj = nn.ModuleList([nn.Conv2d(c1, width, 1), nn.Conv2d(c2, width, 1)])
        self.stem = nn.ModuleDict(
            {
                k: nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.PReLU())
                for k in ('ir', 'vis')
            }
        )
        self.drdb1 = nn.ModuleDict({k: DRDB(width, growth, layers) for k in ('ir', 'vis')})
        self.drdb2 = nn.ModuleDict({k: DRDB(width, growth, layers) for k in ('ir', 'vis')})
        self.hia = nn.ModuleList([HIA(width, heads, soam_context) for _ in range(2)])

    @property
    def segmenter(self) -> nn.Module | None:
        """
        Return the SegFormer (``SegmentationModel``) SegMiF also trains as its segmenter.

        None if there is none.
        """
        return self.semantics.model if self.semantic_kind == 'segformer' else None

    def prior_image(self, visible: Tensor, thermal: Tensor) -> Tensor:
        """Return the 3-channel image the semantic encoder sees: the mean of the two inputs."""
        prior = 0.5 * (visible + thermal)
        return prior.expand(-1, 3, -1, -1) if prior.shape[1] == 1 else prior

    def forward(self, visible: Tensor, thermal: Tensor) -> Tensor:
        h, w = visible.shape[-2:]
        scales = self.semantics(self.prior_image(visible, thermal))
        seg = [proj(F.interpolate(s, size=(h, w), mode='bilinear', align_corners=False))
               for proj, s in zip(self.seg_proj, scales)]
        f = {'ir': self.drdb1['ir'](self.stem['ir'](thermal)),
             'vis': self.drdb1['vis'](self.stem['vis'](visible))}
        f['ir'], f['vis'] = self.hia[0](f['ir'], f['vis'], seg[0])
        f = {k: self.drdb2[k](v) for k, v in f.items()}
        f['ir'], f['vis'] = self.hia[1](f['ir'], f['vis'], seg[1])
        return torch.cat([f['vis'], f['ir']], dim=1)
