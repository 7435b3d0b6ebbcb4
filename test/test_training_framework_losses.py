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

"""Losses and schedules of the new frameworks on hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch
from training.loop.schedule import AlternatingSchedule
from training.losses import (
    equivariant_views,
    masked_dice_loss,
    SegMiFFusionLoss,
    sensing_loss,
    supervised_seg_loss,
    visual_saliency,
)
from training.losses.fusion import ssim_loss
from training.losses.segmif import gaussian_difference, multiscale_gradient_loss, saliency_mse_loss


def test_supervised_seg_loss_by_hand_with_an_ignored_pixel():
    # one image, 2 classes, 3 pixels: logits give p(class 1) = 0.5, 0.731, 0.9 (last pixel ignored)
    l1 = torch.tensor([0.0, 1.0, math.log(9.0)])
    logits = torch.stack([torch.zeros(3), l1]).reshape(1, 2, 1, 3)
    label = torch.tensor([[[0, 1, 255]]])
    p1 = torch.sigmoid(l1[:2])
    ce = -(torch.log(1 - p1[0]) + torch.log(p1[1])) / 2
    # Dice per class over the 2 labelled pixels, eps = 1 in the denominator
    d0 = 2 * (1 - p1[0]) / ((1 - p1[0]) + (1 - p1[1]) + 1 + 1)
    d1 = 2 * p1[1] / (p1[0] + p1[1] + 1 + 1)
    out = supervised_seg_loss(logits, label)
    assert float(out['ce']) == pytest.approx(float(ce), abs=1e-6)
    assert float(out['dice']) == pytest.approx(float(1 - (d0 + d1) / 2), abs=1e-6)
    assert float(out['total']) == pytest.approx(float(out['ce'] + out['dice']), abs=1e-7)
    assert float(supervised_seg_loss(logits, label, dice=False)['total']) == pytest.approx(
        float(ce), abs=1e-6
    )
    # all ignored: zero, still differentiable
    none = supervised_seg_loss(logits.requires_grad_(), torch.full((1, 1, 3), 255))
    assert float(none['total'].detach()) == 0.0 and none['total'].requires_grad
    # logits at half resolution are resized to the label
    assert supervised_seg_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 4, 4, dtype=torch.long))[
        'ce'
    ] == pytest.approx(math.log(2), abs=1e-6)
    assert float(masked_dice_loss(logits, torch.tensor([[[0, 1, 1]]]))) != float(out['dice'])


def test_visual_saliency_by_hand():
    img = torch.tensor([0.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    # levels 0 (2 pixels) and 255 (1 pixel): S(0) = 1 * 255, S(255) = 2 * 255 -> 0.5, 0.5, 1
    assert visual_saliency(img).flatten().tolist() == [0.5, 0.5, 1.0]
    assert torch.all(visual_saliency(torch.full((1, 1, 2, 2), 0.3)) == 0)  # flat: no salient pixel


def test_saliency_mse_weights_the_differences():
    vis = torch.tensor([0.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    ir = torch.full((1, 1, 1, 3), 0.5)                # flat: saliency 0 everywhere
    fused = torch.full((1, 1, 1, 3), 0.5)
    m1 = (visual_saliency(vis) + 1e-6) / (visual_saliency(vis) + 2e-6)  # ~1 where vis is salient
    expected = (m1 * (fused - vis) ** 2).mean() + ((1 - m1) * (fused - ir) ** 2).mean()
    assert float(saliency_mse_loss(fused, vis, ir)) == pytest.approx(float(expected), rel=1e-6)
    assert float(saliency_mse_loss(vis, vis, ir)) == pytest.approx(0.0, abs=1e-6)


def test_gaussian_differences_and_multiscale_gradient():
    flat = torch.full((1, 1, 12, 12), 0.4)
    for k in (3, 5, 7):
        assert torch.allclose(gaussian_difference(flat, k), torch.zeros_like(flat), atol=1e-6)
    step = torch.zeros(1, 1, 12, 12)
    step[..., 6:] = 1.0
    # fused = the only textured source: every scale matches
    assert float(multiscale_gradient_loss(step, step, flat)) == pytest.approx(0.0, abs=1e-10)
    # flat fused: the loss is the sum over k of the mean squared |D_k step|
    expected = sum(float((gaussian_difference(step, k) ** 2).mean()) for k in (3, 5, 7))
    assert float(multiscale_gradient_loss(flat, step, flat)) == pytest.approx(expected, rel=1e-6)


def test_segmif_fusion_loss_is_the_sum_of_its_terms():
    torch.manual_seed(0)
    vis, ir, fused = torch.rand(2, 3, 24, 24), torch.rand(2, 1, 24, 24), torch.rand(2, 3, 24, 24)
    loss = SegMiFFusionLoss(grad_weight=3.0)
    t = loss(fused, ir, vis)
    assert float(t['total']) == pytest.approx(
        float(t['ssim'] + t['mse'] + 3.0 * t['grad']), rel=1e-6
    )
    y = lambda x: 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]  # noqa: E731
    assert float(t['ssim']) == pytest.approx(float(ssim_loss(y(fused), ir, y(vis))), rel=1e-4)
    per = SegMiFFusionLoss(channels='per_channel')(fused, ir, vis)
    assert float(per['ssim']) == pytest.approx(
        float(ssim_loss(fused, ir.expand(-1, 3, -1, -1), vis)), rel=1e-6
    )
    with pytest.raises(ValueError):
        SegMiFFusionLoss(channels='rgb')


def test_emma_sensing_loss_and_views():
    torch.manual_seed(0)
    target = torch.rand(1, 1, 10, 10)
    # a constant offset: L1 = 0.2, gradients identical
    assert float(sensing_loss(target + 0.2, target)) == pytest.approx(0.2, abs=1e-6)
    x = torch.rand(2, 1, 16, 16)
    v = equivariant_views(x, shifts=2, rotations=1, flips=3)
    assert v.shape == (2 * (1 + 2 + 1 + 3), 1, 16, 16)
    assert torch.equal(v[:2], x)
    for i in (1, 2):  # circular shifts keep every pixel
        assert torch.allclose(v[2 * i:2 * i + 2].sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert torch.equal(v[8:10], x.flip(-1)) and torch.equal(v[10:12], x.flip(-2))
    assert torch.equal(v[12:14], x.flip(-1).flip(-2))
    with pytest.raises(ValueError):
        equivariant_views(x, flips=4)


def test_alternating_schedule_by_hand():
    s = AlternatingSchedule(fusion_steps=2, seg_steps=3)
    assert [s.phase(i) for i in range(11)] == ['fusion'] * 2 + ['seg'] * 3 + ['fusion'] * 2 + [
        'seg'
    ] * 3 + ['fusion']
    assert [s.round(i) for i in range(11)] == [0] * 5 + [1] * 5 + [2]
    with pytest.raises(ValueError):
        AlternatingSchedule(0, 3)
