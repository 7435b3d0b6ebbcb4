import numpy as np
import pytest

from ros2_ssvif.thermal import ThermalNormalizer


def test_percentile_stretch_maps_the_range_to_unit_interval():
    t = np.linspace(7000, 9000, 101 * 101).reshape(101, 101).astype(np.uint16)
    out = ThermalNormalizer("percentile", 0.0, 100.0)(t)
    assert out.dtype == np.float32
    assert out.min() == pytest.approx(0.0, abs=1e-3) and out.max() == pytest.approx(1.0, abs=1e-3)
    assert out[50, 50] == pytest.approx(0.5, abs=0.01)


def test_fixed_range_clips():
    out = ThermalNormalizer("fixed", fixed_min=1000, fixed_max=2000)(np.array([[500, 1500, 2500]], np.uint16))
    assert out.tolist() == [[0.0, 0.5, 1.0]]


def test_flat_frame_gives_mid_grey_not_nan():
    out = ThermalNormalizer()(np.full((4, 4), 8000, np.uint16))
    assert np.all(out == 0.5)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="mode"):
        ThermalNormalizer("auto")
    with pytest.raises(ValueError, match="percentiles"):
        ThermalNormalizer("percentile", 90, 10)
