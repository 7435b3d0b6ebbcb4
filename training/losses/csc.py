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
Cross-segmentation consistency loss (SSVIF Eq. 4-6).

Branch A is the segmentation head on the fused *features*, branch B the
segmentation model on the fused *image*. Per pixel the more confident branch
supplies a hard pseudo label, and both branches are trained towards it with
CE + Dice.

Conventions (the paper leaves these open; chosen here):

* Confidence is the max softmax probability; a tie goes to branch B (Eq. 4's
  "otherwise"). The label is built under ``no_grad``: no gradient flows
  through the choice or the label, only through each branch's prediction.
* Both logits must share a resolution. :class:`CSCLoss` bilinearly
  upsamples (align_corners=False) branch A's logits to branch B's size when
  they differ (the head sits on down-sampled features, the SegFormer output
  is at the resolution the caller already chose); :func:`pseudo_label` and
  :func:`hybrid_loss` require matching shapes.
* CE is averaged over pixels (and batch). Eq. 5 writes a sum over x; the mean
  keeps the term independent of crop size so the loss weights transfer.
* Dice: softmax probabilities vs one-hot target, sums over the pixels of each
  image, eps = 1.0 added to the denominator only (as Eq. 5 writes it), mean
  over **all** n classes (classes absent from an image contribute 0 overlap,
  exactly as Eq. 5's 1/n sum), then mean over the batch.
"""
from __future__ import annotations

import torch
from torch import nn, Tensor
import torch.nn.functional as F


__all__ = ['pseudo_label', 'hybrid_loss', 'dice_loss', 'CSCLoss', 'match_resolution']


@torch.no_grad()
def pseudo_label(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """(B,H,W) long label: argmax of the branch with higher max-softmax; ties -> B."""
    if logits_a.shape != logits_b.shape:
        raise ValueError(
            f'pseudo_label: shapes differ {tuple(logits_a.shape)} vs {tuple(logits_b.shape)}'
        )
    conf_a, cls_a = logits_a.softmax(dim=1).max(dim=1)
    conf_b, cls_b = logits_b.softmax(dim=1).max(dim=1)
    return torch.where(conf_a > conf_b, cls_a, cls_b)


def dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """1 - mean_c 2 sum_x p_c t_c / (sum_x p_c + sum_x t_c + eps), batch-averaged."""
    n = logits.shape[1]
    probs = logits.softmax(dim=1)
    onehot = F.one_hot(target, n).permute(0, 3, 1, 2).to(probs.dtype)
    inter = (probs * onehot).sum(dim=(2, 3))
    denom = probs.sum(dim=(2, 3)) + onehot.sum(dim=(2, 3)) + eps
    return (1.0 - (2.0 * inter / denom).mean(dim=1)).mean()


def hybrid_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """L_hyb = CE (mean over pixels) + Dice (Eq. 5); logits (B,n,H,W), target (B,H,W)."""
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError('hybrid_loss: logits and target sizes differ')
    return F.cross_entropy(logits, target) + dice_loss(logits, target, eps)


def match_resolution(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Branch A's logits bilinearly resized to branch B's H x W (no-op if equal)."""
    if logits_a.shape[2:] == logits_b.shape[2:]:
        return logits_a
    return F.interpolate(logits_a, size=logits_b.shape[2:], mode='bilinear', align_corners=False)


class CSCLoss(nn.Module):
    """
    L_csc = (L_hyb(p_A, p~) + L_hyb(p_B, p~)) / 2 (Eq. 6).

    ``forward`` returns ``{"total", "hyb_a", "hyb_b", "pseudo_label"}``; the
    label is returned for logging/visualisation only.
    """

    def __init__(self, eps: float = 1.0) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, logits_a: Tensor, logits_b: Tensor) -> dict[str, Tensor]:
        if logits_a.shape[:2] != logits_b.shape[:2]:
            raise ValueError('CSCLoss: branches need the same batch size and class count')
        logits_a = match_resolution(logits_a, logits_b)
        label = pseudo_label(logits_a, logits_b)
        hyb_a = hybrid_loss(logits_a, label, self.eps)
        hyb_b = hybrid_loss(logits_b, label, self.eps)
        return {
            'total': 0.5 * (hyb_a + hyb_b),
            'hyb_a': hyb_a,
            'hyb_b': hyb_b,
            'pseudo_label': label,
        }
