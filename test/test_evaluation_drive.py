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

"""evaluate_drive: flicker and colour of fused video, on hand-made sequences and a real bag."""
from __future__ import annotations

from evaluation.drive_quality import (
    evaluate_pairs,
    iter_registered_pairs,
    main,
    MaxLuminanceRule,
    static_mask,
)
import numpy as np
import pytest
from ros2_ssvif.registration import PassThroughRegistrar
from ros2_ssvif.thermal import ThermalNormalizer


def _sequence(n=6, hot_from=3):
    """
    Return a static visible frame and a 16-bit thermal ramp.

    A hot 12x12 block enters at frame ``hot_from``.
    """
    vis = np.zeros((48, 64, 3), np.uint8)
    vis[..., 0], vis[..., 1], vis[..., 2] = 120, 60, 30
    base = np.tile(np.linspace(20000, 24000, 64, dtype=np.float32), (48, 1))
    out = []
    for i in range(n):
        t = base.copy()
        if i >= hot_from:
            t[:12, :12] = 40000
        out.append((vis.copy(), t.astype(np.uint16)))
    return out


def test_max_luminance_rule_hand_values():
    vis = np.array([[[200, 10, 10], [200, 10, 10]]], np.uint8)
    fused, ids = MaxLuminanceRule()(vis, np.array([[100 / 255, 30 / 255]], np.float32))
    np.testing.assert_allclose(fused[0, 0].astype(int), [233, 43, 43], atol=1)
    np.testing.assert_allclose(fused[0, 1].astype(int), [200, 10, 10], atol=1)
    assert ids.shape == (1, 2) and not ids.any()


def test_static_mask_excludes_the_pixels_that_changed():
    seq = _sequence()
    mask = static_mask(seq[2][0], seq[3][0], seq[2][1], seq[3][1])
    assert not mask[:10, :10].any()  # the hot block (and its blurred rim) changed
    assert mask[30:, 30:].all()
    assert 0.85 < mask.mean() < 0.97


def test_running_window_removes_the_flicker_a_per_frame_stretch_makes():
    seq = _sequence()
    rule = MaxLuminanceRule()
    per_frame = evaluate_pairs(
        seq, rule, ThermalNormalizer('percentile'), delta_e_every=1
    ).summary()
    running = evaluate_pairs(seq, rule, ThermalNormalizer('running'), delta_e_every=1).summary()
    assert per_frame['frames'] == running['frames'] == 6
    # the stretch re-grades the static ramp when the block (4.7 % of the frame, so above the 99th
    # percentile) enters: window 20000..24000 -> 20000..40000 at once, one big step in frame 3
    assert per_frame['flicker_max'] > 50.0
    # the running window's top edge moves at most 3 % of its width per frame: a few grey levels per
    # frame instead of one jump (the re-grading spreads over seconds)
    assert running['flicker_max'] < 0.1 * per_frame['flicker_max']
    assert running['flicker'] < 0.2 * per_frame['flicker']
    fixed = evaluate_pairs(
        seq, rule, ThermalNormalizer('fixed', fixed_min=20000, fixed_max=40000)
    ).summary()
    assert fixed['flicker'] == pytest.approx(0.0, abs=1e-6)  # a fixed window never re-grades
    assert fixed['delta_e'] >= 0.0


def test_running_window_is_flicker_free_when_the_object_is_small():
    """A warm object moving the 99th percentile less than the dead band changes nothing else."""
    vis = np.full((48, 64, 3), 40, np.uint8)
    base = np.tile(np.linspace(20000, 24000, 64, dtype=np.float32), (48, 1))
    seq = []
    for i in range(5):
        t = base.copy()
        if i >= 2:
            t[:4, :4] = 24300  # 0.5 % of the pixels, 7.5 % above the window top
        seq.append((vis, t.astype(np.uint16)))
    running = evaluate_pairs(seq, MaxLuminanceRule(), ThermalNormalizer('running')).summary()
    assert running['flicker'] == pytest.approx(0.0, abs=1e-6)


def test_a_synthetic_drive_bag_through_the_node_pairing(tmp_path):
    from simulation.drive import write_drive_bag
    from simulation.rig import default_rig

    rig = default_rig()
    bag = tmp_path / 'drive'
    write_drive_bag(bag, rig, duration_s=1.2, rgb_hz=9.0, thermal_hz=9.0, storage='mcap', seed=1)
    from ros2_ssvif.registration import Registration

    reg = Registration(
        visible=rig.visible.camera_info(),
        thermal=rig.thermal.camera_info(),
        homography=rig.plane_homography_thermal_to_visible(12.0),
        crop=(64, 48, 512, 384),
        output_size=(320, 240),
    )
    pairs = list(iter_registered_pairs(bag, reg.build_maps()))
    assert len(pairs) >= 9  # 9 Hz for 1.2 s on both cameras: every thermal frame finds its partner
    assert pairs[0][0].shape == (240, 320, 3) and pairs[0][1].shape == (240, 320)
    assert pairs[0][1].dtype == np.uint16
    path = tmp_path / 'registration.yaml'
    reg.save(path)
    rc = main(
        [
            '--bag',
            str(bag),
            '--registration',
            str(path),
            '--normalization',
            'running',
            'percentile',
            '--output',
            str(tmp_path / 'report'),
        ]
    )
    assert rc == 0
    md = (tmp_path / 'report' / 'summary.md').read_text()
    assert '| max-luminance | running |' in md and '| max-luminance | percentile |' in md


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(['--bag', str(tmp_path / 'nope'), '--normalization', 'bogus']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('evaluate_drive: error:')
    assert PassThroughRegistrar()  # the default registrar exists for registered drives
