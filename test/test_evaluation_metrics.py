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

"""Fusion metrics on tiny arrays whose values can be worked out by hand."""
from __future__ import annotations

import math
from pathlib import Path
import sys
import warnings

import numpy as np
import pytest


try:
    import evaluation  # noqa: F401
except ImportError:  # editable install made before evaluation/ existed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.metrics import (  # noqa: I100 (after the import guard)
    color,
    compute_all,
    get_convention,
    information,
    METRICS,
    qabf,
    scd,
    statistics,
    structural,
    vif,
)


RNG = np.random.default_rng(0)
TEXTURE = RNG.integers(0, 256, (48, 48)).astype(np.uint8)


def two_level():
    img = np.zeros((4, 4), np.uint8)
    img[:, 2:] = 255
    return img


def test_entropy_two_level_image_is_one_bit():
    assert information.entropy(two_level()) == pytest.approx(1.0, abs=1e-12)


def test_entropy_constant_is_zero_and_four_levels_two_bits():
    assert information.entropy(np.full((3, 3), 7)) == 0.0
    img = np.array([[0, 1], [2, 3]])
    assert information.entropy(img) == pytest.approx(2.0, abs=1e-12)


def test_mi_of_identical_images_is_entropy_in_nats():
    mi = information.mutual_information(TEXTURE, TEXTURE)
    assert mi == pytest.approx(information.entropy(TEXTURE) * math.log(2), abs=1e-12)


def test_mi_of_independent_patterns_is_zero_and_fusion_mi_sums():
    a = np.array([[0, 0], [255, 255]] * 2)
    b = np.array([[0, 255], [0, 255]] * 2)
    assert information.mutual_information(a, b) == pytest.approx(0.0, abs=1e-12)
    # F = a: MI(F,a) = ln 2, MI(F,b) = 0
    assert information.fusion_mi(a, a, b) == pytest.approx(math.log(2), abs=1e-12)


def test_sd_sf_ag_by_hand():
    assert statistics.standard_deviation(np.array([[0, 2], [0, 2]])) == pytest.approx(1.0)
    x = np.array([[0, 1], [2, 3]])
    # horizontal diffs 1,1 (sum 2); vertical 2,2 (sum 8); MN = 4
    assert statistics.spatial_frequency(x, 'MN') == pytest.approx(math.sqrt(2 / 4 + 8 / 4))
    assert statistics.spatial_frequency(x, 'count') == pytest.approx(math.sqrt(1 + 4))
    ramp = np.tile(np.arange(4.0), (3, 1))  # gx = 1, gy = 0 everywhere
    assert statistics.average_gradient(ramp) == pytest.approx(12 * math.sqrt(0.5) / (2 * 3))
    assert statistics.average_gradient(ramp, 'MN') == pytest.approx(math.sqrt(0.5))


def test_ssim_of_identical_images_sums_to_two():
    for window in ('gaussian11', 'uniform7'):
        assert structural.fusion_ssim(TEXTURE, TEXTURE, TEXTURE, window) == pytest.approx(
            2.0, abs=1e-12
        )
    assert structural.ssim(TEXTURE, 255 - TEXTURE) < 0


def test_ssim_gaussian_window_by_hand_on_constant_images():
    a, b = np.full((16, 16), 100.0), np.full((16, 16), 50.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 50 + c1) / (100 ** 2 + 50 ** 2 + c1)  # variances are all zero
    assert structural.ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ms_ssim_identical_is_one_and_small_image_is_refused():
    big = np.random.default_rng(1).integers(0, 256, (170, 170))
    assert structural.ms_ssim(big, big) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match='MS-SSIM.*161'):
        structural.ms_ssim(TEXTURE, TEXTURE)


def test_qabf_perfect_fusion_value():
    q0 = qabf.TG / (1 + math.exp(qabf.KG * 0.5)) * qabf.TA / (1 + math.exp(qabf.KA * 0.2))
    # F equal to both sources: every edge pixel has G = A = 1
    assert qabf.qabf(TEXTURE, TEXTURE, TEXTURE) == pytest.approx(q0, abs=1e-12)
    # flat fused image keeps no edges (G = 0 wherever there is a source edge... )
    flat = np.zeros_like(TEXTURE)
    assert qabf.qabf(flat, TEXTURE, TEXTURE) < 0.01


def test_scd_of_sum_of_sources_is_two():
    a = RNG.normal(size=(20, 20))
    b = RNG.normal(size=(20, 20))
    assert scd.scd(a + b, a, b) == pytest.approx(2.0, abs=1e-12)
    assert scd.corr2(np.ones((3, 3)), a[:3, :3]) == 0.0


def test_vif_of_image_with_itself_is_one():
    img = np.random.default_rng(2).integers(0, 256, (64, 64))
    assert vif.vif(img, img) == pytest.approx(1.0, abs=1e-6)
    assert vif.fusion_vif(img, img, img, 'sum') == pytest.approx(2.0, abs=1e-6)
    assert vif.vif(img, np.full_like(img, 128)) == pytest.approx(0.0, abs=1e-6)


def test_delta_e_black_white_is_100_and_identical_is_0():
    black, white = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)
    assert color.delta_e(white, black) == pytest.approx(100.0, abs=1e-3)
    assert color.delta_e(TEXTURE, TEXTURE) == pytest.approx(0.0, abs=1e-9)


def test_vifb_sf_of_colour_image_is_side_by_side():
    img = np.zeros((5, 6, 3), np.uint8)
    img[..., 1], img[..., 2] = 10, 20  # flat channels; only the two seams differ
    sf = compute_all(img, img, img, metrics=['SF'])['SF']
    assert sf == pytest.approx(math.sqrt(2 * 5 * 100 / (5 * 18)))
    assert compute_all(img, img, img, 'cddfuse', metrics=['SF'])['SF'] == 0.0


def test_compute_all_grey_colour_and_conventions():
    rgb = np.repeat(TEXTURE[..., None], 3, axis=2)
    ir = np.roll(TEXTURE, 3, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # MS-SSIM too small: NaN
        grey = compute_all(TEXTURE, ir, TEXTURE)
        colour = compute_all(rgb, ir, rgb)
        cdd = compute_all(TEXTURE, ir, TEXTURE, 'cddfuse')
    assert set(grey) == set(METRICS)
    for m in ('EN', 'SD', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM'):
        assert colour[m] == pytest.approx(grey[m], abs=1e-12), m
    assert cdd['VIF'] == pytest.approx(2 * grey['VIF'], abs=1e-12)
    assert cdd['SSIM'] == pytest.approx(1.0 + structural.ssim(TEXTURE, ir, 'uniform7'), abs=1e-12)
    assert math.isnan(grey['MS_SSIM'])
    assert grey['SSIM'] == pytest.approx(1.0 + structural.ssim(TEXTURE, ir), abs=1e-12)


def test_bad_input_messages():
    with pytest.raises(ValueError, match='sizes differ'):
        compute_all(np.zeros((8, 8)), np.zeros((8, 9)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match='2-D'):
        information.entropy(np.zeros(5))
    with pytest.raises(ValueError, match='unknown convention'):
        get_convention('matlab')
    with pytest.raises(ValueError, match='unknown metric'):
        compute_all(TEXTURE, TEXTURE, TEXTURE, metrics=['PSNR'])
    with pytest.raises(TypeError, match='numeric'):
        information.entropy(np.array([['a', 'b'], ['c', 'd']]))
    with pytest.raises(ValueError, match='NaN'):
        statistics.standard_deviation(np.array([[0.0, np.nan], [1.0, 2.0]]))
