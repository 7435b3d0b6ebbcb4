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
SwinFusion-style backbone (Ma et al., 2022), written from the paper.

Structure: per-modality shallow convs -> intra-domain Swin groups (window
self-attention with shifted windows) -> inter-domain cross-attention groups
(each modality queries the other inside the same window) -> merge conv ->
a reconstruction Swin group. The output is the fused feature map; the image
decoder (``training.models.decoder``) turns it into pixels.

Everything is plain ``view``/``permute``/``matmul``/``roll`` so that the
ONNX exporter sees ordinary ops, and the shifted-window mask is computed
from ``arange`` comparisons on the (padded) size, so it is traced as a
function of the input shape rather than baked in as a constant: dynamic H/W
exports work.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .spec import register_backbone
from ..decoder import ConvDecoder


__all__ = [
    'SwinFusionBackbone',
    'SwinLayer',
    'WindowAttention',
    'shifted_window_mask',
    'window_partition',
    'window_reverse',
]

_MASK_VALUE = -100.0  # as in Swin: exp(-100) is 0 in float32 after softmax


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B*nW, ws*ws, C); H, W must be multiples of ``ws``."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows: torch.Tensor, ws: int, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B*nW, ws*ws, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def shifted_window_mask(h: int, w: int, ws: int, shift: int, device=None) -> torch.Tensor:
    """
    Additive mask (nW, ws*ws, ws*ws) for attention over rolled windows.

    After rolling by ``-shift`` the last window row/column mixes pixels from
    the image's far edges; tokens from different source regions must not
    attend to each other. Region ids come from comparisons with ``arange``
    so the mask follows the input size under tracing.
    """
    rows = torch.arange(h, device=device)
    cols = torch.arange(w, device=device)
    rid = (rows >= h - ws).to(torch.float32) + (rows >= h - shift).to(torch.float32)
    cid = (cols >= w - ws).to(torch.float32) + (cols >= w - shift).to(torch.float32)
    region = (rid[:, None] * 3.0 + cid[None, :])[None, :, :, None]  # (1, H, W, 1)
    win = window_partition(region, ws).squeeze(-1)  # (nW, N)
    same = win[:, :, None] == win[:, None, :]
    return torch.where(
        same, torch.zeros((), device=device), torch.full((), _MASK_VALUE, device=device)
    )


class WindowAttention(nn.Module):
    """
    Multi-head attention inside a window with a learned relative-position bias.

    Queries and keys/values have separate projections so the same module
    serves intra-domain (kv = x) and inter-domain (kv = other modality)
    attention.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        ws = window_size
        self.rel_bias = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.rel_bias, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij')
        ).flatten(1)
        rel = coords[:, :, None] - coords[:, None, :] + (ws - 1)  # (2, N, N), each in [0, 2ws-2]
        self.register_buffer(
            'rel_index', (rel[0] * (2 * ws - 1) + rel[1]).flatten(), persistent=False
        )

    def forward(
        self, xq: torch.Tensor, xkv: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        bn, n, c = xq.shape
        h = self.num_heads
        q = self.q(xq).view(bn, n, h, c // h).transpose(1, 2) * self.scale
        kv = self.kv(xkv).view(bn, n, 2, h, c // h).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attn = q @ k.transpose(-2, -1)  # (bn, h, n, n)
        bias = self.rel_bias[self.rel_index].view(n, n, h).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(-1, nw, h, n, n) + mask[None, :, None]
            attn = attn.view(-1, h, n, n)
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(bn, n, c)
        return self.proj(out)


class SwinLayer(nn.Module):
    """
    One (shifted-)window transformer layer on channels-last maps (B, H, W, C).

    With ``cross=True`` the keys/values come from a second map ``context``
    (inter-domain fusion); otherwise from ``x`` itself (intra-domain).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, shift: int,
                 mlp_ratio: float = 2.0, cross: bool = False):
        super().__init__()
        self.window_size = window_size
        self.shift = shift
        self.cross = cross
        self.norm1 = nn.LayerNorm(dim)
        self.norm_ctx = nn.LayerNorm(dim) if cross else None
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, h, w, _ = x.shape
        ws, s = self.window_size, self.shift
        q = self.norm1(x)
        kv = self.norm_ctx(context) if self.cross else q
        mask = None
        if s:
            q = torch.roll(q, shifts=(-s, -s), dims=(1, 2))
            kv = torch.roll(kv, shifts=(-s, -s), dims=(1, 2)) if self.cross else q
            mask = shifted_window_mask(h, w, ws, s, device=x.device)
        out = self.attn(window_partition(q, ws), window_partition(kv, ws), mask)
        out = window_reverse(out, ws, b, h, w)
        if s:
            out = torch.roll(out, shifts=(s, s), dims=(1, 2))
        x = x + out
        return x + self.mlp(self.norm2(x))


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ResidualSwinGroup(nn.Module):
    """
    ``depth`` alternating regular/shifted Swin layers + 3x3 conv, with a skip.

    SwinIR's RSTB.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float):
        super().__init__()
        self.layers = nn.ModuleList(
            SwinLayer(
                dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio
            )
            for i in range(depth)
        )
        self.conv = _conv3x3(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.permute(0, 2, 3, 1)
        for layer in self.layers:
            t = layer(t)
        return x + self.conv(t.permute(0, 3, 1, 2))


class CrossSwinGroup(nn.Module):
    """
    Inter-domain group: at each depth, A attends to B and B attends to A.

    Both from the previous step.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float):
        super().__init__()

        def make(i: int) -> SwinLayer:
            return SwinLayer(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2,
                             mlp_ratio, cross=True)

        self.a_from_b = nn.ModuleList(make(i) for i in range(depth))
        self.b_from_a = nn.ModuleList(make(i) for i in range(depth))
        self.conv_a = _conv3x3(dim, dim)
        self.conv_b = _conv3x3(dim, dim)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ta, tb = a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)
        for la, lb in zip(self.a_from_b, self.b_from_a):
            ta, tb = la(ta, tb), lb(tb, ta)
        return (a + self.conv_a(ta.permute(0, 3, 1, 2)),
                b + self.conv_b(tb.permute(0, 3, 1, 2)))


def _shallow(cin: int, dim: int) -> nn.Sequential:
    return nn.Sequential(_conv3x3(cin, dim // 2), nn.LeakyReLU(0.2, inplace=True),
                         _conv3x3(dim // 2, dim), nn.LeakyReLU(0.2, inplace=True))


# SwinFusion's reconstruction tail: two 3x3 convs with LeakyReLU.
@register_backbone('swinfusion', decoder=lambda c, out: ConvDecoder(c, (c // 2,), out))
class SwinFusionBackbone(nn.Module):
    """
    Visible + thermal -> fused features (B, embed_dim, H, W) at input resolution.

    Defaults (embed 60, 6 heads, window 8, MLP ratio 2, depths 4 / [2, 2] / 4)
    give a ~1 M-parameter fusion model with the shared conv decoder, matching
    the 0.97-0.98 M reported for SwinFusion in SSVIF Table IV. Inputs of any
    size are replicate-padded to a window multiple and features cropped back.
    """

    def __init__(self, in_channels: int = 3, embed_dim: int = 60, num_heads: int = 6,
                 window_size: int = 8, mlp_ratio: float = 2.0, ex_depth: int = 4,
                 fusion_depths: tuple[int, ...] = (2, 2), re_depth: int = 4):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = embed_dim
        self.window_size = window_size
        args = (num_heads, window_size, mlp_ratio)
        self.shallow_vis = _shallow(in_channels, embed_dim)
        self.shallow_ir = _shallow(in_channels, embed_dim)
        self.intra_vis = ResidualSwinGroup(embed_dim, ex_depth, *args)
        self.intra_ir = ResidualSwinGroup(embed_dim, ex_depth, *args)
        self.inter = nn.ModuleList(CrossSwinGroup(embed_dim, d, *args) for d in fusion_depths)
        self.merge = nn.Sequential(
            _conv3x3(2 * embed_dim, embed_dim), nn.LeakyReLU(0.2, inplace=True)
        )
        self.refine = ResidualSwinGroup(embed_dim, re_depth, *args)

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        h, w = visible.shape[-2:]
        ws = self.window_size
        pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
        # always pad (possibly by 0): a size-dependent branch would pin the export to one size
        visible = F.pad(visible, (0, pad_w, 0, pad_h), mode='replicate')
        thermal = F.pad(thermal, (0, pad_w, 0, pad_h), mode='replicate')
        a = self.intra_vis(self.shallow_vis(visible))
        b = self.intra_ir(self.shallow_ir(thermal))
        for group in self.inter:
            a, b = group(a, b)
        x = self.refine(self.merge(torch.cat([a, b], dim=1)))
        return x[..., :h, :w]
