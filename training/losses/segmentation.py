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


__all__ = ['masked_dice_loss', 'partial_label_ce', 'supervised_seg_loss']


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


def partial_label_ce(logits: Tensor, label: Tensor, any_of: dict[int, Tensor] | None = None,
                     ignore_index: int = IGNORE_INDEX, weights: Tensor | None = None) -> Tensor:
    """
    Cross-entropy where some labels name a set of classes rather than one class.

    Pseudo-labels made from boxes know that a pixel outside every box is "not
    a person, car or bicycle" without knowing whether it is road or wall.
    ``any_of`` maps such a label value (e.g. 254) to a bool mask over the
    classes it allows; its pixels contribute -log of the summed probability of
    those classes, ``logsumexp(logits[allowed]) - logsumexp(logits)``, which is
    the plain cross-entropy when the set holds one class. Ordinary labels give
    the usual term; ``ignore_index`` pixels give none. ``weights`` (one per
    class) weight the ordinary pixels by their label, set pixels weigh 1; the
    result is the weighted mean over contributing pixels (0 with a graph when
    there are none), as ``F.cross_entropy`` with ``weight`` does.
    """
    if logits.shape[-2:] != label.shape[-2:]:
        logits = F.interpolate(logits, size=label.shape[-2:], mode='bilinear', align_corners=False)
    n = logits.shape[1]
    logz = torch.logsumexp(logits, dim=1)                       # (B, H, W)
    single = (label != ignore_index) & (label < n)
    safe = torch.where(single, label, 0)
    picked = logits.gather(1, safe[:, None])[:, 0]
    w = single.to(logits.dtype)
    if weights is not None:
        w = w * torch.as_tensor(weights, dtype=logits.dtype, device=logits.device)[safe]
    total = ((logz - picked) * w).sum()
    count = w.sum()
    for value, allowed in (any_of or {}).items():
        sel = label == int(value)
        if not sel.any():
            continue
        allowed = torch.as_tensor(allowed, dtype=torch.bool, device=logits.device)
        if allowed.shape != (n,):
            raise ValueError(f'any_of[{value}] must be a bool mask over {n} classes')
        masked = logits.masked_fill(~allowed[None, :, None, None], float('-inf'))
        total = total + ((logz - torch.logsumexp(masked, dim=1)) * sel).sum()
        count = count + sel.sum()
    if float(count) == 0:
        return logits.sum() * 0.0
    return total / count
