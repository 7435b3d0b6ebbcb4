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
EMMA's U-Fuser (Zhao et al., "Equivariant Multi-Modality Image Fusion", CVPR 2024).

Written from the paper and the public description of the released network
(nothing copied): a four-level U-Net per modality whose every block is a
"Restormer-CNN" block, a fusion block per level on the concatenated
modality features, and a U-shaped decoder that returns full-resolution
features. The registered image decoder is EMMA's last layer (one 3x3 conv;
``FusionModel`` applies the sigmoid), so SSVIF, MultiTaskVIF (whose MTH
replaces that layer) and EMMA's own training all use the same backbone.

Restormer-CNN block: 3x3 embedding conv, then in parallel a global branch
(LayerNorm -> multi-Dconv transposed attention, i.e. attention across
channels with L2-normalised queries/keys and a learned temperature, ->
residual; LayerNorm -> gated depth-wise feed-forward -> residual) and a
local branch (two residual 3x3 conv blocks), joined by a 3x3 conv on their
concatenation. Widths (8, 16, 32, 32) and 8 heads by default, as released.

The three stride-2 downsamplings need sizes divisible by 8: the input is
replicate-padded at the bottom/right and the features keep the padded size
(``FusionModel`` crops the decoded image back).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn, Tensor
import torch.nn.functional as F

from .spec import register_backbone
from ..decoder import ConvDecoder


__all__ = ['EMMABackbone', 'RestormerCNNBlock', 'TransposedAttention']


class _ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of every pixel of a (B, C, H, W) map."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class TransposedAttention(nn.Module):
    """Restormer's MDTA: per head, a (d x d) channel attention softmax(q_hat k_hat^T * tau) v."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f'channels ({channels}) must be divisible by heads ({heads})')
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Sequential(nn.Conv2d(channels, 3 * channels, 1, bias=False),
                                 nn.Conv2d(3 * channels, 3 * channels, 3, padding=1, bias=False))
        self.proj = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = (
            t.reshape(b, self.heads, c // self.heads, h * w) for t in self.qkv(x).chunk(3, dim=1)
        )
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.proj((attn @ v).reshape(b, c, h, w))


class _GatedFeedForward(nn.Module):
    """1x1 to 2 x hidden, depth-wise 3x3, GELU(x1) * x2, 1x1 back (expansion 1, as released)."""

    def __init__(self, channels: int, expansion: float = 1.0):
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, 2 * hidden, 1, bias=False)
        self.dwconv = nn.Conv2d(
            2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=False
        )
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class _ResBlock(nn.Module):

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class RestormerCNNBlock(nn.Module):
    """Embed, then global (transformer) and local (CNN) branches joined by a 3x3 conv."""

    def __init__(self, cin: int, cout: int, heads: int = 8):
        super().__init__()
        self.embed = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm1 = _ChannelLayerNorm(cout)
        self.attn = TransposedAttention(cout, min(heads, cout))
        self.norm2 = _ChannelLayerNorm(cout)
        self.ffn = _GatedFeedForward(cout)
        self.local = nn.Sequential(_ResBlock(cout), _ResBlock(cout))
        self.join = nn.Conv2d(2 * cout, cout, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.embed(x)
        g = x + self.attn(self.norm1(x))
        g = g + self.ffn(self.norm2(g))
        return self.join(torch.cat([g, self.local(x)], dim=1))


def _down(c: int) -> nn.Conv2d:
    return nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False)


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.ReLU())


# EMMA's U-Fuser ends in one 3x3 conv to the image.
@register_backbone('emma', decoder=lambda c, out: ConvDecoder(c, (), out))
class EMMABackbone(nn.Module):
    """U-Fuser without its last layer: (visible, thermal) -> (B, widths[0], H', W') features."""

    def __init__(
        self, in_channels: int = 1, widths: Sequence[int] = (8, 16, 32, 32), heads: int = 8
    ):
        super().__init__()
        w = [int(c) for c in widths]
        if len(w) != 4:
            raise ValueError(f'EMMA needs 4 widths, got {widths!r}')
        self.in_channels = in_channels
        self.out_channels = w[0]
        ins = [in_channels] + w[:3]
        self.enc_vis = nn.ModuleList(RestormerCNNBlock(a, b, heads) for a, b in zip(ins, w))
        self.enc_ir = nn.ModuleList(RestormerCNNBlock(a, b, heads) for a, b in zip(ins, w))
        self.down_vis = nn.ModuleList(_down(c) for c in w[:3])
        self.down_ir = nn.ModuleList(_down(c) for c in w[:3])
        self.fuse = nn.ModuleList(RestormerCNNBlock(2 * c, c, heads) for c in w)
        self.dec4 = RestormerCNNBlock(w[3], w[3], heads)
        self.up = nn.ModuleList([_up(w[3], w[2]), _up(w[2], w[1]), _up(w[1], w[0])])
        self.dec = nn.ModuleList([RestormerCNNBlock(2 * w[2], w[2], heads),
                                  RestormerCNNBlock(2 * w[1], w[1], heads),
                                  RestormerCNNBlock(2 * w[0], w[0], heads)])

    def _encode(self, x: Tensor, blocks: nn.ModuleList, downs: nn.ModuleList) -> list[Tensor]:
        feats = [blocks[0](x)]
        for block, down in zip(blocks[1:], downs):
            feats.append(block(down(feats[-1])))
        return feats

    def forward(self, visible: Tensor, thermal: Tensor) -> Tensor:
        h, w = visible.shape[-2:]
        ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
        # always pad (possibly by 0): a size-dependent branch would pin an ONNX export to one size
        visible = F.pad(visible, (0, pw, 0, ph), mode='replicate')
        thermal = F.pad(thermal, (0, pw, 0, ph), mode='replicate')
        fv = self._encode(visible, self.enc_vis, self.down_vis)
        fi = self._encode(thermal, self.enc_ir, self.down_ir)
        f = [fuse(torch.cat([a, b], dim=1)) for fuse, a, b in zip(self.fuse, fi, fv)]
        out = self.up[0](self.dec4(f[3]))
        for up, dec, skip in zip((self.up[1], self.up[2], None), self.dec, (f[2], f[1], f[0])):
            out = dec(torch.cat([out, skip], dim=1))
            if up is not None:
                out = up(out)
        return out
