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
MultiTaskVIF's multi-task head (MTH) with HIA-F, and the fusion model that carries it.

MTH (MultiTaskVIF Sec. 3.3) replaces a fusion model's decoder: two CNN
branches read the same fused features; the segmentation branch predicts
class logits (used only for the training loss), the fusion reconstruction
branch predicts the image. HIA-F lets the reconstruction features f_re read
from the segmentation features f_seg:

1. a 3x3 conv aligns f_seg to f_re;
2. channel embeddings split each into high- and low-level tokens
   (t_s^h, t_s^l) and (t_r^h, t_r^l);
3. C_h: query t_s^h, key/value t_r^h -> f_h (what of f_re serves the
   high-level task); C_l: query t_r^l, key/value t_s^l -> f_l (what of
   f_seg serves reconstruction), exactly the order the paper gives;
4. f_RE = LayerNorm(f_re + MLP([f_h, f_l])).

Choices the paper leaves open: two conv layers per branch (the
segmentation branch is SSVIF's head: 3x3 conv-BN-ReLU twice, 1x1 to the
classes), attention heads (``heads`` = 4), the MLP (Linear 2C->C, GELU,
Linear C->C) and the LayerNorm after the residual (as SegMiF's HIA). The
image tail is the backbone's own decoder built for ``width`` input
channels, so a backbone with half-resolution features still upsamples as
it does without MTH. ``hia=False`` is ablation Exp. ii (w/o HIA-F).

Branch width (``width``). The paper gives none; its Table 7 fixes the
size. Its "FLOPs" are multiply-accumulates (its 1-channel SegMiF row,
45.25 M / 51.20 G, is our SegMiF + SegFormer-B3 at 47.9 M / 51.3 GMACs),
and against the published sizes of the backbones (EMMA's U-Fuser 1.51 M,
SeAFusion 0.17 M, SegMiF's fusion net 0.69 M; SwinFusion against the
paper's own 1.71 M row) the MTH adds +0.6 to +0.8 M parameters and ~40-50
GMACs at 256x256, whatever the backbone's feature width (8 for the
U-Fuser, 96 for SeAFusion): one fixed-width head at full resolution.
``width='paper'`` (the default) is that head, :data:`PAPER_WIDTH` = 128
channels; a config may set another int (MultiTaskVIF IV uses 112, see
``config/training/multitaskvif_segmif.yaml``). ``width='backbone'`` is the
earlier compact head, as wide as the backbone's features (at least 16),
which adds only 0.01 M (U-Fuser) to 0.47 M (SeAFusion).
"""
from __future__ import annotations

from typing import Callable

from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb
import torch
from torch import nn, Tensor
import torch.nn.functional as F

from .attention import ChannelEmbedding, ContextCrossAttention, to_map, to_tokens
from .fusion_model import FusionModel, FusionOutput


__all__ = ['HIAF', 'MultiTaskHead', 'MultiTaskFusionModel', 'PAPER_WIDTH', 'head_width']

#: MTH branch width that gives Table 7's sizes (module docstring)
PAPER_WIDTH = 128


class HIAF(nn.Module):
    """``forward(f_re, f_seg) -> f_RE`` (same shape as f_re)."""

    def __init__(self, channels: int, seg_channels: int | None = None, heads: int = 4):
        super().__init__()
        self.align = nn.Conv2d(seg_channels or channels, channels, 3, padding=1)
        self.embed_seg = ChannelEmbedding(channels)
        self.embed_re = ChannelEmbedding(channels)
        self.cross_high = ContextCrossAttention(channels, heads)
        self.cross_low = ContextCrossAttention(channels, heads)
        self.mlp = nn.Sequential(nn.Linear(2 * channels, channels), nn.GELU(),
                                 nn.Linear(channels, channels))
        self.norm = nn.LayerNorm(channels)

    def forward(self, f_re: Tensor, f_seg: Tensor) -> Tensor:
        h, w = f_re.shape[-2:]
        t_re = to_tokens(f_re)
        t_s_high, t_s_low = self.embed_seg(to_tokens(self.align(f_seg)))
        t_r_high, t_r_low = self.embed_re(t_re)
        f_high = self.cross_high(t_s_high, t_r_high)  # C_h: segmentation queries reconstruction
        f_low = self.cross_low(t_r_low, t_s_low)      # C_l: reconstruction queries segmentation
        out = self.norm(t_re + self.mlp(torch.cat([f_high, f_low], dim=-1)))
        return to_map(out, h, w)


def head_width(width: int | str | None, in_channels: int) -> int:
    """
    Resolve ``width`` of :class:`MultiTaskHead` to channels.

    ``'paper'`` or None: :data:`PAPER_WIDTH`; ``'backbone'``: the compact
    head, ``max(16, in_channels)``; an int > 0: itself.
    """
    if width is None or width == 'paper':
        return PAPER_WIDTH
    if width == 'backbone':
        return max(16, int(in_channels))
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"MTH width must be 'paper', 'backbone' or an int > 0, got {width!r}")
    return width


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class MultiTaskHead(nn.Module):
    """
    Features -> (image logits for ``FusionModel``, segmentation logits at feature resolution).

    ``image_decoder(width, out_channels)`` builds the reconstruction tail
    (the backbone's registered decoder). It is registered last, so its last
    conv is the one ``FusionModel`` zero-initialises in ``blend`` mode.
    ``width``: the branches' channels (:func:`head_width`; module docstring).
    """

    def __init__(self, in_channels: int, out_channels: int, num_classes: int,
                 image_decoder: Callable[[int, int], nn.Module],
                 width: int | str | None = 'paper', hia: bool = True, heads: int = 4):
        super().__init__()
        width = head_width(width, in_channels)
        self.width = width
        self.seg_branch = nn.Sequential(
            *_conv_bn_relu(in_channels, width), *_conv_bn_relu(width, width)
        )
        self.classifier = nn.Conv2d(width, num_classes, 1)
        self.fusion_branch = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1),
                                           nn.LeakyReLU(0.2, inplace=True))
        self.hia = HIAF(width, heads=heads) if hia else None
        self.image_decoder = image_decoder(width, out_channels)
        self.num_classes = num_classes
        self.out_channels = out_channels

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        f_seg = self.seg_branch(features)
        f_re = self.fusion_branch(features)
        if self.hia is not None:
            f_re = self.hia(f_re, f_seg)
        return self.image_decoder(f_re), self.classifier(f_seg)


def _logits_like(seg: Tensor, raw: Tensor, h: int, w: int) -> Tensor:
    """
    Resize and crop the segmentation logits like the image.

    Resized like the image (half-resolution features) and cropped like it (backbones that pad
    their input).
    """
    if seg.shape[-2:] != raw.shape[-2:]:
        seg = F.interpolate(seg, size=raw.shape[-2:], mode='bilinear', align_corners=False)
    return seg[..., :h, :w]


class MultiTaskFusionModel(FusionModel):
    """
    A FusionModel whose decoder is an MTH.

    ``forward`` is the deployed fusion, ``forward_tasks`` also returns the segmentation logits
    at image size (training only).

    The input conventions (3-channel RGB, or luma fused with the visible
    chroma carried) are FusionModel's; they are repeated here rather than
    changing FusionModel, whose forward must return the image alone.
    """

    def _run(self, visible: Tensor, thermal: Tensor) -> tuple[FusionOutput, Tensor, Tensor]:
        """(output, segmentation logits at feature resolution, image logits before cropping)."""
        if visible.shape[1] != 3 or thermal.shape[1] not in (1, 3):
            raise ValueError(f'visible must be (B, 3, H, W) and thermal (B, 1|3, H, W), got '
                             f'{tuple(visible.shape)} and {tuple(thermal.shape)}')
        h, w = visible.shape[-2:]
        if self.in_channels == 3:
            thermal = thermal.expand(-1, 3, -1, -1) if thermal.shape[1] == 1 else thermal
            features = self.backbone(visible, thermal)
            raw, seg = self.decoder(features)
            return (
                FusionOutput(self._image(raw[..., :h, :w], visible, thermal), features),
                seg,
                raw,
            )
        vis_ycbcr = rgb_to_ycbcr(visible)
        thermal_y = thermal if thermal.shape[1] == 1 else rgb_to_ycbcr(thermal)[:, :1]
        features = self.backbone(vis_ycbcr[:, :1], thermal_y)
        raw, seg = self.decoder(features)
        fused_y = self._image(raw[..., :h, :w], vis_ycbcr[:, :1], thermal_y)
        fused = ycbcr_to_rgb(torch.cat([fused_y, vis_ycbcr[:, 1:]], dim=1)).clamp(0.0, 1.0)
        return FusionOutput(fused, features), seg, raw

    def forward_tasks(self, visible: Tensor, thermal: Tensor) -> tuple[FusionOutput, Tensor]:
        out, seg, raw = self._run(visible, thermal)
        return out, _logits_like(seg, raw, *visible.shape[-2:])

    def forward(self, visible: Tensor, thermal: Tensor) -> FusionOutput:
        return self._run(visible, thermal)[0]
