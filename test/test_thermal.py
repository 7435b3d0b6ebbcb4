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

"""ThermalNormalizer: one mapping per source, hand-computed values."""
import numpy as np
import pytest
from ros2_ssvif.thermal import ThermalNormalizer


def test_percentile_stretch_maps_the_range_to_unit_interval():
    t = np.linspace(7000, 9000, 101 * 101).reshape(101, 101).astype(np.uint16)
    out = ThermalNormalizer('percentile', 0.0, 100.0)(t)
    assert out.dtype == np.float32
    assert out.min() == pytest.approx(0.0, abs=1e-3) and out.max() == pytest.approx(1.0, abs=1e-3)
    assert out[50, 50] == pytest.approx(0.5, abs=0.01)


def test_fixed_range_clips():
    out = ThermalNormalizer('fixed', fixed_min=1000, fixed_max=2000)(
        np.array([[500, 1500, 2500]], np.uint16)
    )
    assert out.tolist() == [[0.0, 0.5, 1.0]]


def test_eight_bit_datasets_are_used_as_given():
    """
    Auto on uint8 is /255: a dataset's 8-bit IR image is not stretched.

    Its values are what a metric scores against.
    """
    img = np.array([[0, 51, 102], [153, 204, 255]], np.uint8)
    for norm in (ThermalNormalizer(), ThermalNormalizer(video=False), ThermalNormalizer('scale')):
        out = norm(img)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, img / 255.0, atol=1e-7)
    # an 8-bit image with a narrow range stays narrow (the old stretch made 100..140 -> 0..1)
    narrow = np.array([[100, 120, 140]], np.uint8)
    np.testing.assert_allclose(
        ThermalNormalizer()(narrow), [[100 / 255, 120 / 255, 140 / 255]], atol=1e-7
    )


def test_scale_mode_for_sixteen_bit_and_float():
    np.testing.assert_allclose(
        ThermalNormalizer('scale')(np.array([[0, 65535, 13107]], np.uint16)),
        [[0.0, 1.0, 0.2]],
        atol=1e-7,
    )
    np.testing.assert_allclose(
        ThermalNormalizer('scale')(np.array([[-0.5, 0.25, 2.0]], np.float32)), [[0.0, 0.25, 1.0]]
    )


def test_auto_resolves_by_depth_and_use():
    assert ThermalNormalizer().effective_mode(np.uint8) == 'scale'
    assert ThermalNormalizer().effective_mode(np.uint16) == 'running'
    assert ThermalNormalizer(video=False).effective_mode(np.uint16) == 'percentile'
    assert ThermalNormalizer('running').for_stills().effective_mode(np.uint16) == 'percentile'
    assert ThermalNormalizer('fixed').for_stills().mode == 'fixed'


def _frame(lo: int, hi: int, hot: int | None = None) -> np.ndarray:
    """100x100 ramp lo..hi (percentiles 0/100 = lo/hi), optionally with a hot 10x10 block."""
    t = np.linspace(lo, hi, 100 * 100).reshape(100, 100).astype(np.float32)
    if hot is not None:
        t[:10, :10] = hot
    return t.astype(np.uint16)


def test_running_window_ignores_a_hot_object_inside_the_dead_band():
    n = ThermalNormalizer('running', 0.0, 100.0, rate=0.5, hysteresis=0.1)
    first = n(_frame(1000, 2000))
    assert n.window == (1000.0, 2000.0)
    # a hot object raises the frame maximum to 2080: 8 % of the width, inside the 10 % band
    n(_frame(1000, 2000, hot=2080))
    assert n.window == (1000.0, 2000.0)
    out = n(_frame(1000, 2000))
    np.testing.assert_array_equal(out, first)  # static pixels keep their grey exactly


def test_running_window_is_slew_limited_and_restarts_after_reset():
    n = ThermalNormalizer('running', 0.0, 100.0, rate=0.1, hysteresis=0.1)
    n(_frame(1000, 2000))
    n(_frame(1000, 2050))  # 50 above the high edge: inside the band (100), nothing moves
    assert n.window == (1000.0, 2000.0)
    n(_frame(1000, 2150))  # 150 above: outside the band, moves by at most 10 % of the width (100)
    assert n.window == pytest.approx((1000.0, 2100.0))
    n(_frame(1000, 2150))  # 50 above the new edge (band 110): stays
    assert n.window == pytest.approx((1000.0, 2100.0))
    n(_frame(1500, 6000))  # a big change is followed by at most 110 per edge per frame
    assert n.window == pytest.approx((1110.0, 2210.0))
    for _ in range(60):
        n(_frame(1500, 6000))
    assert n.window == pytest.approx((1500.0, 6000.0), abs=460)  # within the band (10 % of 4500)
    assert n.jumps == 0
    n.reset()
    assert n.window is None
    n(_frame(5000, 6000))  # after a reset (new time line) the first frame sets the window
    assert n.window == (5000.0, 6000.0)


def test_running_window_jumps_when_the_scene_leaves_it_entirely():
    """Defect: after a gain switch (28000-32000 -> 7000-9000 counts) the picture was black 18 s."""
    n = ThermalNormalizer('running', 0.0, 100.0, rate=0.03, hysteresis=0.1)
    for _ in range(30):
        n(_frame(28000, 32000))
    assert n.window == (28000.0, 32000.0)
    out = n(_frame(7000, 9000))  # no overlap with the window: it is set at once, not slid
    assert n.window == (7000.0, 9000.0) and n.jumps == 1
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)
    n(_frame(7100, 9150))  # overlapping again, inside the dead band (200): nothing moves
    assert n.window == (7000.0, 9000.0) and n.jumps == 1


def test_per_frame_stretch_changes_static_pixels_when_a_hot_object_enters():
    """What the running window prevents: the percentile stretch rescales the whole frame."""
    per_frame = ThermalNormalizer('percentile', 0.0, 100.0)
    a = per_frame(_frame(1000, 2000))
    b = per_frame(_frame(1000, 2000, hot=3000))
    static = np.ones((100, 100), bool)
    static[:10, :10] = False
    assert (
        np.abs(a - b)[static].mean() > 0.2
    )  # hand value: 0.5 * (1 - 1000/2000) = 0.25 on average
    running = ThermalNormalizer('running', 0.0, 100.0)  # rate 3 %, band 10 %
    a2 = running(_frame(1000, 2000))
    b2 = running(_frame(1000, 2000, hot=2050))  # inside the band: nothing moves
    assert np.abs(a2 - b2)[static].max() == 0.0
    c2 = running(_frame(1000, 2000, hot=3000))  # far outside: the top edge moves 3 % (30 counts)
    assert running.window == pytest.approx((1000.0, 2030.0))
    assert np.abs(a2 - c2)[static].mean() == pytest.approx(0.5 * 30 / 1030, abs=2e-3)


def test_flat_frame_gives_mid_grey_not_nan():
    out = ThermalNormalizer('percentile')(np.full((4, 4), 8000, np.uint16))
    assert np.all(out == 0.5)
    assert np.all(ThermalNormalizer()(np.full((4, 4), 8000, np.uint16)) == 0.5)


def test_nan_pixels_do_not_poison_the_frame():
    t = np.array([[1.0, np.nan, 3.0]], np.float32)
    out = ThermalNormalizer('percentile', 0.0, 100.0)(t)
    np.testing.assert_allclose(out, [[0.0, 0.0, 1.0]])


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match='mode'):
        ThermalNormalizer('bogus')
    with pytest.raises(ValueError, match='percentiles'):
        ThermalNormalizer('percentile', 90, 10)
    with pytest.raises(ValueError, match='rate'):
        ThermalNormalizer(rate=0.0)
    with pytest.raises(ValueError, match='hysteresis'):
        ThermalNormalizer(hysteresis=1.5)
