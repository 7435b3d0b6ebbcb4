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
Supervised segmentation loss on labels: cross-entropy + Dice (MultiTaskVIF Sec. 3.4).

L_seg = L_ce + L_dice with
L_ce = mean over labelled pixels of -log p_{y(i)}(i),
L_dice = 1 - mean_c 2 sum_i p_ic y_ic / (sum_i p_ic + sum_i y_ic + eps).

Conventions (the paper leaves these open): pixels labelled ``ignore_index``
(255) enter neither term; sums run over the pixels of each image and the
Dice is averaged over **all** classes, then over the batch, as in SSVIF's
L_csc (``training.losses.csc.dice_loss``), with eps = 1 in the denominator
only. SegMiF's L_s and SeAFusion's semantic loss are the cross-entropy
alone (``dice=False``).
"""
from __future__ import annotations

from ros2_ssvif.classes import IGNORE_INDEX
import torch
from torch import Tensor
import torch.nn.functional as F


__all__ = ['masked_dice_loss', 'supervised_seg_loss']


def masked_dice_loss(logits: Tensor, label: Tensor, ignore_index: int = IGNORE_INDEX,
                     eps: float = 1.0) -> Tensor:
    """Dice of softmax probabilities against one-hot labels, ignored pixels left out."""
    n = logits.shape[1]
    valid = (label != ignore_index)
    probs = logits.softmax(dim=1) * valid[:, None]
    onehot = F.one_hot(torch.where(valid, label, 0), n).permute(0, 3, 1, 2).to(probs.dtype)
    onehot = onehot * valid[:, None]
    inter = (probs * onehot).sum(dim=(2, 3))
    denom = probs.sum(dim=(2, 3)) + onehot.sum(dim=(2, 3)) + eps
    return (1.0 - (2.0 * inter / denom).mean(dim=1)).mean()


def supervised_seg_loss(logits: Tensor, label: Tensor, dice: bool = True,
                        ignore_index: int = IGNORE_INDEX, eps: float = 1.0) -> dict[str, Tensor]:
    """
    ``{"ce", "dice", "total"}`` for logits (B, n, H, W), labels (B, H, W); dice 0 when off.

    Logits at another resolution than the labels are resized bilinearly first.
    """
    if logits.shape[0] != label.shape[0]:
        raise ValueError(f'logits batch {logits.shape[0]} != label batch {label.shape[0]}')
    if logits.shape[-2:] != label.shape[-2:]:
        logits = F.interpolate(logits, size=label.shape[-2:], mode='bilinear', align_corners=False)
    if not (label != ignore_index).any():
        zero = logits.sum() * 0.0  # keeps the graph; nothing to learn from this batch
        return {'ce': zero, 'dice': zero, 'total': zero}
    ce = F.cross_entropy(logits, label, ignore_index=ignore_index)
    d = masked_dice_loss(logits, label, ignore_index, eps) if dice else ce.new_zeros(())
    return {'ce': ce, 'dice': d, 'total': ce + d}
