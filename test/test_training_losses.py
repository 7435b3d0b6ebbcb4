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

"""Fusion loss, CSC loss and gradient helpers against hand-computed numbers."""
from __future__ import annotations

import math

import pytest


torch = pytest.importorskip('torch')
pytest.importorskip('kornia')
pytest.importorskip('pytorch_msssim')

from training.gradients import (  # noqa: E402
    cosine,
    grad_norm,
    projection_coefficient,
    RunningMean,
    task_gradients,
)
from training.losses import (  # noqa: E402
    color_loss,
    CSCLoss,
    dice_loss,
    FusionLoss,
    gradient_loss,
    hybrid_loss,
    intensity_loss,
    pseudo_label,
    sobel_magnitude,
    ssim_loss,
)


EPS = 1e-6  # kornia sobel eps inside the sqrt
C1, C2 = 0.01**2, 0.03**2  # SSIM constants for data_range = 1


def const(values, size=16):
    """(1, C, size, size) image with channel c constant at values[c]."""
    v = torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1)
    return v.expand(1, len(values), size, size).contiguous()


# ---------------------------------------------------------------- intensity
def test_intensity_pixelwise():
    f = torch.tensor([[0.0, 1.0], [0.5, 0.5]]).view(1, 1, 2, 2)
    ir = torch.tensor([[0.2, 0.2], [0.9, 0.0]]).view(1, 1, 2, 2)
    vis = torch.tensor([[0.1, 0.8], [0.1, 0.7]]).view(1, 1, 2, 2)
    # max = [[.2,.8],[.9,.7]] -> |diff| = .2,.2,.4,.2 -> mean .25
    assert intensity_loss(f, ir, vis).item() == pytest.approx(0.25, abs=1e-7)


def test_intensity_per_channel_mean():
    f, ir, vis = const([0.4] * 3, 4), const([0.2] * 3, 4), const([0.1, 0.5, 0.3], 4)
    # per channel |.4-.2|, |.4-.5|, |.4-.3| -> (.2+.1+.1)/3
    assert intensity_loss(f, ir, vis).item() == pytest.approx(0.4 / 3, abs=1e-7)


# ---------------------------------------------------------------- gradient
def ramp(axis, slope, n=4):
    r = torch.arange(n, dtype=torch.float32) * slope
    img = r.view(1, n).expand(n, n) if axis == 'x' else r.view(n, 1).expand(n, n)
    return img.contiguous().view(1, 1, n, n)


def test_sobel_convention_unnormalised_replicate():
    # ramp of slope .1 along x: raw Sobel gives 8s = .8 inside, 4s = .4 on the
    # replicated first/last column; magnitude sqrt(gx^2 + eps)
    m = sobel_magnitude(ramp('x', 0.1))[0, 0]
    expect = [math.sqrt(g * g + EPS) for g in (0.4, 0.8, 0.8, 0.4)]
    for row in m:
        assert row.tolist() == pytest.approx(expect, abs=1e-6)


def test_gradient_loss_hand():
    ir, vis = ramp('x', 0.1), ramp('y', 0.2)  # |grad| by col .4,.8,.8,.4 ; by row .8,1.6,1.6,.8
    b_rows = [math.sqrt(b * b + EPS) for b in (0.8, 1.6, 1.6, 0.8)]
    a_cols = [math.sqrt(a * a + EPS) for a in (0.4, 0.8, 0.8, 0.4)]
    # vis magnitude >= ir magnitude everywhere, so the target is b_row
    flat = torch.zeros(1, 1, 4, 4)  # |grad f| = sqrt(eps) = 1e-3
    assert gradient_loss(flat, ir, vis).item() == pytest.approx(sum(b_rows) / 4 - 1e-3, abs=1e-6)
    exp_ir = sum(b - a for b in b_rows for a in a_cols) / 16  # fused = ir
    assert gradient_loss(ir, ir, vis).item() == pytest.approx(exp_ir, abs=1e-6)
    assert exp_ir == pytest.approx(0.6, abs=1e-5)


# ---------------------------------------------------------------- ssim
def test_ssim_identity_and_constants():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16)
    assert ssim_loss(x, x, x).item() == pytest.approx(0.0, abs=1e-6)
    f, ir, vis = const([0.5] * 3), const([0.3] * 3), const([0.5] * 3)
    # constant images: sigma = 0, so ssim = (2 mu_x mu_y + C1)/(mu_x^2 + mu_y^2 + C1)
    s_ir = (2 * 0.5 * 0.3 + C1) / (0.25 + 0.09 + C1)
    assert ssim_loss(f, ir, vis).item() == pytest.approx(0.5 * (1 - s_ir), abs=3e-4)


def _ssim_reference(x, y):
    """Wang et al. SSIM in float64: 11x11 Gaussian (sigma 1.5), valid window, mean."""
    c = x.shape[1]
    t = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(t**2) / (2 * 1.5**2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).expand(c, 1, 11, 11)
    filt = lambda z: torch.nn.functional.conv2d(z, w, groups=c)  # noqa: E731
    x, y = x.double(), y.double()
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    m = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2))
    return m.mean().item()


def test_ssim_matches_reference_formula():
    torch.manual_seed(4)
    f, ir, vis = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    expect = 0.5 * ((1 - _ssim_reference(f, ir)) + (1 - _ssim_reference(f, vis)))
    assert ssim_loss(f, ir, vis).item() == pytest.approx(expect, abs=1e-4)


# ---------------------------------------------------------------- colour
def test_color_gray_vs_red():
    f, vis = const([0.5] * 3, 4), const([1.0, 0.0, 0.0], 4)
    y = 0.299  # gray: Cb = Cr = .5
    cb, cr = (0 - y) * 0.564 + 0.5, (1 - y) * 0.713 + 0.5
    expect = (abs(0.5 - cb) + abs(0.5 - cr)) / 2  # 0.3342245
    assert color_loss(f, vis).item() == pytest.approx(expect, abs=1e-6)
    assert expect == pytest.approx(0.3342245, abs=1e-7)


# ---------------------------------------------------------------- FusionLoss
def _ssim_const(a, b):
    return (2 * a * b + C1) / (a * a + b * b + C1)


def test_fusion_loss_total_hand():
    f, ir, vis = const([0.5] * 3), const([0.3]), const([1.0, 0.0, 0.0])
    out = FusionLoss()(f, ir, vis)
    l_int = (0.5 + 0.2 + 0.2) / 3  # max(ir, vis) = (1, .3, .3)
    s_ir = _ssim_const(0.5, 0.3)
    s_vis = (_ssim_const(0.5, 1.0) + 2 * _ssim_const(0.5, 0.0)) / 3
    l_ssim = 0.5 * ((1 - s_ir) + (1 - s_vis))
    l_col = 0.3342245
    assert out['int'].item() == pytest.approx(l_int, abs=1e-6)
    assert out['grad'].item() == pytest.approx(0.0, abs=1e-6)
    assert out['ssim'].item() == pytest.approx(l_ssim, abs=3e-4)
    assert out['color'].item() == pytest.approx(l_col, abs=1e-6)
    total = 20 * l_int + 10 * l_ssim + 20 * l_col
    assert out['total'].item() == pytest.approx(total, abs=3e-3)
    # lambda_4 is configurable (Table VII ablation): the difference is 20 L_color
    out0 = FusionLoss(lambdas=(20, 20, 10, 0))(f, ir, vis)
    assert (out['total'] - out0['total']).item() == pytest.approx(20 * l_col, abs=1e-5)


def test_fusion_thermal_broadcast_equals_repeat():
    torch.manual_seed(1)
    f, vis, ir = torch.rand(1, 3, 12, 12), torch.rand(1, 3, 12, 12), torch.rand(1, 1, 12, 12)
    a = FusionLoss()(f, ir, vis)['total']
    b = FusionLoss()(f, ir.repeat(1, 3, 1, 1), vis)['total']
    assert a.item() == pytest.approx(b.item(), abs=1e-6)


def test_fusion_single_channel_drops_colour():
    # binary-exact values: float32 variance of a constant image is then exactly 0
    f, ir, vis = const([0.5]), const([0.25]), const([0.75])
    out = FusionLoss(channels='single')(f, ir, vis)
    l_ssim = 0.5 * ((1 - _ssim_const(0.5, 0.25)) + (1 - _ssim_const(0.5, 0.75)))
    assert out['color'].item() == 0.0
    assert out['int'].item() == pytest.approx(0.25, abs=1e-6)
    # pytorch_msssim's float32 Gaussian window sums to 1 only to ~1e-7, which
    # leaves a ~1e-7 "variance" on constant images, i.e. ~1e-4 on cs (C2 = 9e-4)
    assert out['ssim'].item() == pytest.approx(l_ssim, abs=3e-4)
    assert out['total'].item() == pytest.approx(20 * 0.25 + 10 * l_ssim, abs=3e-3)
    # RGB inputs are reduced to Y first: a gray RGB image has Y = its value
    out3 = FusionLoss(channels='single')(const([0.5] * 3), const([0.25] * 3), const([0.75] * 3))
    assert out3['total'].item() == pytest.approx(out['total'].item(), abs=1e-4)
    with pytest.raises(ValueError):
        FusionLoss(channels='rgb')


def test_fusion_backward():
    torch.manual_seed(2)
    f = torch.rand(1, 3, 12, 12, requires_grad=True)
    FusionLoss()(f, torch.rand(1, 1, 12, 12), torch.rand(1, 3, 12, 12))['total'].backward()
    assert torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0


# ---------------------------------------------------------------- CSC
def test_pseudo_label_confident_branch_ties_to_b():
    # pixel 0: A [2,0] (.881) beats B [0,1] (.731) -> A's class 0
    # pixel 1: B [0,3] (.953) beats A [.5,0] (.622) -> B's class 1
    # pixel 2: A [1,0] and B [0,1] equally confident -> tie -> B's class 1
    a = torch.tensor([[2.0, 0.5, 1.0], [0.0, 0.0, 0.0]]).view(1, 2, 1, 3)
    b = torch.tensor([[0.0, 0.0, 0.0], [1.0, 3.0, 1.0]]).view(1, 2, 1, 3)
    lab = pseudo_label(a.requires_grad_(), b)
    assert lab.tolist() == [[[0, 1, 1]]]
    assert not lab.requires_grad and lab.dtype == torch.long


def _two_class_example():
    l3 = math.log(3.0)
    # class-0 probs .5, .75, .25, .5 ; class-1 probs .5, .25, .75, .5
    logits = torch.tensor([[0.0, l3], [0.0, 0.0], [0.0, 0.0], [l3, 0.0]]).view(1, 2, 2, 2)
    target = torch.tensor([[[0, 0], [1, 1]]])
    return logits, target


def test_hybrid_loss_hand():
    logits, target = _two_class_example()
    # CE: mean over the 4 pixels of -ln p_target = -ln(.5), -ln(.75), -ln(.75), -ln(.5)
    ce = (math.log(2) + math.log(4 / 3) + math.log(4 / 3) + math.log(2)) / 4
    # dice class 0: 2(.5+.75)/(2+2+eps); class 1: 2(.75+.5)/(2+2+eps)
    assert dice_loss(logits, target, eps=1.0).item() == pytest.approx(1 - 2.5 / 5, abs=1e-6)
    assert dice_loss(logits, target, eps=0.0).item() == pytest.approx(1 - 2.5 / 4, abs=1e-6)
    assert hybrid_loss(logits, target).item() == pytest.approx(ce + 0.5, abs=1e-6)
    assert ce == pytest.approx(0.5 * math.log(8 / 3), abs=1e-12)


def test_csc_gradients_reach_both_branches_not_label():
    torch.manual_seed(3)
    a = torch.randn(1, 3, 2, 2, requires_grad=True)  # half resolution: upsampled
    b = torch.randn(1, 3, 4, 4, requires_grad=True)
    out = CSCLoss(eps=1.0)(a, b)
    assert out['pseudo_label'].shape == (1, 4, 4)
    out['total'].backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    # the same gradient as with the label frozen as a constant
    b2 = b.detach().clone().requires_grad_()
    lab = out['pseudo_label'].clone()
    (0.5 * hybrid_loss(b2, lab)).backward()
    assert torch.allclose(b.grad, b2.grad, atol=1e-7)
    assert out['total'].item() == pytest.approx(
        0.5 * (out['hyb_a'].item() + out['hyb_b'].item()), abs=1e-7
    )


# ---------------------------------------------------------------- gradients
def test_projection_cosine_norm_hand():
    gc, gf = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    assert grad_norm(gf).item() == pytest.approx(5.0)
    assert projection_coefficient(gc, gf).item() == pytest.approx(11 / 25)
    assert cosine(gc, gf).item() == pytest.approx(11 / (math.sqrt(5) * 5))
    assert (
        projection_coefficient(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])).item() == -1.0
    )
    assert projection_coefficient(gc, torch.zeros(2)).item() == 0.0


def test_task_gradients_shared_params():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    v = torch.nn.Parameter(torch.tensor([5.0]))
    losses = {'fusion': (w * w).sum() + v.sum(), 'csc': 3 * w[0]}
    g = task_gradients(losses, [w, v])
    assert g['fusion'].tolist() == [2.0, 4.0, 1.0]
    assert g['csc'].tolist() == [3.0, 0.0, 0.0]  # v unused by csc: zero block
    assert w.grad is None  # .grad untouched; graph kept for the real backward
    (losses['fusion'] + 0.5 * losses['csc']).backward()
    assert w.grad.tolist() == [3.5, 4.0]


def test_running_mean():
    m = RunningMean()
    assert m.mean is None
    m.update(2.0)
    m.update(torch.tensor(4.0), n=3)
    assert m.mean == pytest.approx(3.5)
    m2 = RunningMean()
    m2.load_state_dict(m.state_dict())
    assert m2.mean == pytest.approx(3.5)
