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
Cross-attention through a global context, and the channel embedding SegMiF's HIA starts with.

SegMiF's HIA (Sec. 3.2) computes, per head, a global context G = K^T V
from one set of tokens and applies it to the queries of the other, S = Q G;
MultiTaskVIF's HIA-F reuses the idea. The features are at full image
resolution (N = H W tokens), so the N x N attention map of ordinary
attention is out of the question; with the context form the cost is
O(N d^2). Normalisation follows "efficient attention" (Shen et al., WACV
2021), which makes S = Q G an attention: each query's weights
(softmax over its d channels) mix d context rows, and each context row is
a softmax-over-tokens average of the values. SegMiF's text gives no
normalisation; this one keeps every output a convex combination of values,
so it cannot blow up at any resolution, and it makes masking exact: a
masked key token gets weight 0 in every context row, exactly as if it were
absent.

Tokens are (B, N, C) with C = heads * d; ``to_tokens``/``to_map`` convert
from/to (B, C, H, W).
"""
from __future__ import annotations

import torch
from torch import nn, Tensor


__all__ = ['ChannelEmbedding', 'ContextCrossAttention', 'to_map', 'to_tokens']


def to_tokens(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H*W, C)."""
    return x.flatten(2).transpose(1, 2)


def to_map(tokens: Tensor, h: int, w: int) -> Tensor:
    """(B, H*W, C) -> (B, C, H, W)."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)


class ChannelEmbedding(nn.Module):
    """
    Linear C -> 2C + ReLU, split in two token sets of C channels.

    SegMiF's {F^s, F^m}; HIA-F's high- and low-level tokens.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.proj = nn.Linear(channels, 2 * channels)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        first, second = torch.relu(self.proj(tokens)).chunk(2, dim=-1)
        return first, second


class ContextCrossAttention(nn.Module):
    """
    Cross-attention through the per-head global context softmax_N(K)^T V.

    ``forward(query, context, context_mask=None)``: queries from one token set, keys and values
    from the other, through the per-head global context softmax_N(K)^T V.

    ``query`` (B, Nq, C), ``context`` (B, Nk, C) -> (B, Nq, C). ``context_mask`` (B, Nk) bool,
    True = a real token: False tokens (padding) do not enter the context.
    """

    def __init__(self, channels: int, heads: int = 1):
        super().__init__()
        if channels % heads:
            raise ValueError(f'channels ({channels}) must be divisible by heads ({heads})')
        self.heads = heads
        self.q = nn.Linear(channels, channels)
        self.k = nn.Linear(channels, channels)
        self.v = nn.Linear(channels, channels)
        self.out = nn.Linear(channels, channels)

    def _split(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)  # (B, h, N, d)

    def forward(
        self, query: Tensor, context: Tensor, context_mask: Tensor | None = None
    ) -> Tensor:
        if query.shape[0] != context.shape[0] or query.shape[-1] != context.shape[-1]:
            raise ValueError(f'query {tuple(query.shape)} and context {tuple(context.shape)} '
                             'need the same batch and channels')
        q = self._split(self.q(query)).softmax(dim=-1)           # over each query's d channels
        k = self._split(self.k(context))
        if context_mask is not None:
            if context_mask.shape != context.shape[:2]:
                raise ValueError(f'context_mask must be {tuple(context.shape[:2])}, '
                                 f'got {tuple(context_mask.shape)}')
            k = k.masked_fill(~context_mask[:, None, :, None], float('-inf'))
        k = k.softmax(dim=-2)                                    # over the context tokens
        g = k.transpose(-2, -1) @ self._split(self.v(context))  # (B, h, d, d) global context
        s = (q @ g).transpose(1, 2).reshape(query.shape)
        return self.out(s)
