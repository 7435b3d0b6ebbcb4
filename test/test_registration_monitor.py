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
The registration monitor (ros2_ssvif/alignment.py): real pairs, its rules, process_bag.

Issue 17: a thermal camera knocked out of its calibration ghosted every fused
edge and nothing said so. Shifts are applied to real RoadScene and MSRS pairs
(which are themselves a few pixels off: errors are measured against the
estimate at zero applied shift of the same pair); the drive tests knock the
simulated thermal camera by 6 px halfway and read process_bag's output.
"""
import math

import cv2
import numpy as np
import pytest
from ros2_ssvif.alignment import AlignmentMonitor, AlignmentSettings, estimate_shift
from ros2_ssvif.alignment import ShiftEstimate
from ros2_ssvif.bag_io import iter_messages
from ros2_ssvif.config import FusionConfig
from ros2_ssvif.health import OK, STALE, WARN
from ros2_ssvif.image_codec import stamp_seconds
from ros2_ssvif.process_bag import process_bag
from ros2_ssvif.registration import PassThroughRegistrar


def shifted(vis, th01, dx, dy, margin=10):
    """Crop both so that thermal content lies (dx, dy) px from its visible counterpart."""
    h, w = th01.shape
    return (np.ascontiguousarray(vis[margin:h - margin, margin:w - margin]),
            np.ascontiguousarray(th01[margin - dy:h - margin - dy, margin - dx:w - margin - dx]))


def real_pair(root, vis, ir):
    v = cv2.cvtColor(cv2.imread(str(root / vis)), cv2.COLOR_BGR2RGB)
    return v, cv2.imread(str(root / ir), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0


@pytest.mark.parametrize('folder,stem,ext', [('ivf_roadscene221', 'FLIR_00018', 'jpg'),
                                             ('msrs_test_dev', '00012N', 'png'),
                                             ('msrs_test_dev', '00055D', 'png')])
def test_shifts_applied_to_real_pairs_are_measured_within_a_pixel(
        shared_data, folder, stem, ext):
    vis, th = real_pair(shared_data / folder, f'vi/{stem}.{ext}', f'ir/{stem}.{ext}')
    zero = estimate_shift(*shifted(vis, th, 0, 0))
    assert zero.confidence > 0.1, zero
    confident = 0
    for dx, dy in ((4, 0), (-8, 2), (0, -4), (8, 8), (-2, -8)):
        est = estimate_shift(*shifted(vis, th, dx, dy))
        if est.confidence >= AlignmentSettings().min_confidence:
            confident += 1
            err = math.hypot(est.dx - zero.dx - dx, est.dy - zero.dy - dy)
            assert err <= 1.0, (dx, dy, est, zero)
    assert confident >= 3
    print(f'{stem}: own residual ({zero.dx:+.1f}, {zero.dy:+.1f}) px, {confident}/5 confident')


def test_a_blank_or_tiny_image_is_not_a_measurement():
    flat = estimate_shift(np.full((240, 320, 3), 90, np.uint8),
                          np.full((240, 320), 0.4, np.float32))
    assert flat.confidence == 0.0 and not flat.texture
    tiny = estimate_shift(np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.float32))
    assert tiny.confidence == 0.0
    m = AlignmentMonitor(AlignmentSettings(window=3))
    for k in range(4):
        m.record(float(k), flat)
    r = m.report()
    assert r.level == STALE and 'too little texture' in r.message and r.values['frames_used'] == 0


def feed(m, t0, t1, dx, dy=0.0, conf=0.4, step=1 / 3.0):
    t = t0
    while t < t1 - 1e-9:
        m.record(t, ShiftEstimate(dx, dy, conf), m.correction)
        t += step
    return m.report()


def test_warn_needs_the_shift_held_and_one_frame_does_not_flap():
    m = AlignmentMonitor(AlignmentSettings(window=5, warn_px=2.0, warn_hold_s=0.5))
    assert feed(m, 0.0, 3.0, 0.3).level == OK
    m.record(3.0, ShiftEstimate(9.0, 0.0, 0.9))  # one wild frame: the median does not move
    assert m.report().level == OK and m.report().values['shift_x_px'] == pytest.approx(0.3)
    r = feed(m, 3.2, 5.0, 6.0, -1.0)
    assert r.level == WARN and r.values['shift_x_px'] == pytest.approx(6.0)
    assert 'off by 6.1 px' in r.message and 'recalibrate' in r.message
    # the median turned at the second new check (3.53 s: the wild frame is still in the
    # window), WARN at the first check held 0.5 s after it (checks every 1/3 s: 4.2 s)
    assert r.values['level_since_stamp'] == pytest.approx(3.2 + 3 / 3, abs=1e-6)
    m.record(5.1, ShiftEstimate(0.0, 0.0, 0.05))  # unconfident: not counted
    assert m.report().level == WARN and m.report().values['frames_used'] == 4
    r = feed(m, 5.2, 7.0, 0.2)
    assert r.level == OK and r.values['level_since_stamp'] > 5.2 + 0.5


def test_stale_when_too_few_checks_are_confident_and_every_zero_turns_it_off():
    m = AlignmentMonitor(AlignmentSettings(window=5))
    assert feed(m, 0.0, 2.0, 0.1, conf=0.05).level == STALE
    assert 'too little texture' in m.report().message
    off = AlignmentMonitor(AlignmentSettings(check_every=0))
    assert not any(off.due() for _ in range(10)) and off.report().level == OK
    every3 = AlignmentMonitor(AlignmentSettings(check_every=3))
    assert [every3.due() for _ in range(7)] == [True, False, False, True, False, False, True]


def test_autocorrect_follows_the_median_bounded_and_counted():
    m = AlignmentMonitor(AlignmentSettings(autocorrect=True, autocorrect_max_px=10.0))
    feed(m, 0.0, 1.0, 0.0)
    assert m.correction == (0.0, 0.0)
    # the estimates a corrected pipeline sees: absolute shift minus the correction applied
    t = 1.0
    for _ in range(20):
        cx, cy = m.correction
        m.record(t, ShiftEstimate(6.4 - cx, -0.5 - cy, 0.4), (cx, cy))
        t += 1 / 3
    cx, cy = m.correction
    assert math.hypot(cx - 6.4, cy + 0.5) <= 0.5 and m.corrections >= 3
    r = m.report()
    assert r.level == WARN and r.values['residual_px'] <= 0.5 and 'autocorrect' in r.message
    for _ in range(30):  # 30 px: beyond the bound, never corrected past 10 px
        cx, cy = m.correction
        m.record(t, ShiftEstimate(30.0 - cx, 0.0 - cy, 0.4), (cx, cy))
        t += 1 / 3
    assert math.hypot(*m.correction) <= 10.0 + 1e-9 and m.correction[0] > 9.0
    m.configure(AlignmentSettings(autocorrect=False))
    assert m.correction == (0.0, 0.0)


def test_the_correction_translates_the_remap_tables_and_the_pass_through(tmp_path):
    from ros_helpers import small_registration

    _, reg = small_registration(tmp_path)
    maps = reg.build_maps()
    thermal = np.zeros((48, 64), np.uint8)
    thermal[20:24, 30:34] = 200
    before = maps.register_thermal(thermal)
    maps.set_thermal_offset(4.0, -2.0)
    after = maps.register_thermal(thermal)
    ys, xs = np.nonzero(before > 100)
    ys2, xs2 = np.nonzero(after > 100)
    assert (xs2.mean() - xs.mean(), ys2.mean() - ys.mean()) == pytest.approx((-4.0, 2.0), abs=0.3)
    assert after[:, -3:].max() == 0  # no thermal beyond the table: black, not smeared
    p = PassThroughRegistrar()
    p.set_thermal_offset(3.0, 0.0)
    _, moved = p.register_pair(np.zeros((48, 64, 3), np.uint8), thermal)
    assert np.nonzero(moved > 100)[1].mean() == pytest.approx(31.5 - 3.0, abs=0.3)


def run(bump_drives, toy_model_path, tmp_path, drive, **cfg):
    c = FusionConfig(model_path=str(toy_model_path),
                     registration_file=str(bump_drives.registration), **cfg)
    out = tmp_path / f'{drive}_out'
    summary = process_bag(getattr(bump_drives, drive), out, c, progress=False)
    return summary, out


def statuses(out):
    """(header stamp, level, values) of every registration status in the output bag."""
    found = []
    for topic, _, msg in iter_messages(out, ['/diagnostics']):
        for st in msg.status:
            if st.name == 'fusion_node: registration':
                found.append((stamp_seconds(msg.header), st.level,
                              {kv.key: kv.value for kv in st.values}))
    return found


def test_process_bag_reports_a_knocked_thermal_camera_within_two_seconds(
        bump_drives, toy_model_path, tmp_path):
    s, out = run(bump_drives, toy_model_path, tmp_path, 'bumped')
    reg = s['registration']
    warn = [e for e in reg['timeline'] if e['level'] == 'WARN']
    assert warn, reg['timeline']
    latency = warn[0]['stamp'] - bump_drives.bump_stamp
    before = [st for st in statuses(out) if st[0] < bump_drives.bump_stamp]
    base_x = float(before[-1][2]['shift_x_px'])
    truth_x, truth_y = bump_drives.bump_output_px
    assert 0 < latency <= 2.0, reg['timeline']
    assert abs(float(reg['shift_x_px']) - base_x - truth_x) <= 1.0, (reg, base_x)
    assert abs(float(reg['shift_y_px']) - truth_y) <= 1.0 and reg['level'] == 'WARN'
    # /diagnostics in the bag: stamped like the frames it judged, one per checked pair
    fused = {round(stamp_seconds(m.header), 6) for _, _, m in iter_messages(out, ['/fused/image'])}
    found = statuses(out)
    assert len(found) == reg['checks'] and all(round(t, 6) in fused for t, _, _ in found)
    moved = float(reg['shift_x_px']) - base_x
    print(f'process_bag: WARN {latency:.2f} s (bag time) after the knock; shift {moved:+.2f} px '
          f'over the {base_x:+.2f} px before it, truth {truth_x:+.2f} px')


def test_process_bag_never_warns_on_the_same_drive_without_the_knock(
        bump_drives, toy_model_path, tmp_path):
    s, out = run(bump_drives, toy_model_path, tmp_path, 'steady')
    levels = [lvl for _, lvl, _ in statuses(out)]
    assert WARN not in levels and levels.count(OK) >= 0.8 * len(levels)
    assert s['registration']['level'] == 'OK', s['registration']
    assert abs(float(s['registration']['shift_x_px'])) < 1.5


def test_process_bag_autocorrect_aligns_the_fused_pair_again(bump_drives, toy_model_path,
                                                             tmp_path):
    s, _ = run(bump_drives, toy_model_path, tmp_path, 'bumped', registration_autocorrect=True)
    reg = s['registration']
    before = [c for c in reg['corrections'] if c['stamp'] < bump_drives.bump_stamp]
    start = before[-1]['to_px'] if before else [0.0, 0.0]
    moved = reg['correction_x_px'] - start[0], reg['correction_y_px'] - start[1]
    truth = bump_drives.bump_output_px
    assert reg['residual_px'] <= 1.0, reg  # measured on the corrected pairs the model fused
    assert math.hypot(moved[0] - truth[0], moved[1] - truth[1]) <= 1.0, (moved, truth)
    assert s['counts']['registration_corrections'] == len(reg['corrections']) >= 3
    assert max(math.hypot(*c['to_px']) for c in reg['corrections']) <= 10.0
    print(f"autocorrect: residual {reg['residual_px']:.2f} px (monitor), correction moved "
          f'({moved[0]:+.2f}, {moved[1]:+.2f}) px for a truth of ({truth[0]:+.2f}, '
          f'{truth[1]:+.2f}) px')


def test_calibrate_check_measures_a_drive_and_writes_the_correction(bump_drives, tmp_path,
                                                                    capsys):
    from calibration.cli import main as calibrate

    after = f'{bump_drives.bumped}@{bump_drives.bump_stamp - 1_700_000_000 + 1.0:.1f}:'
    fixed = tmp_path / 'fixed' / 'registration.yaml'
    rc = calibrate(['--check', after, '--calibration', str(bump_drives.registration),
                    '--write-corrected', str(fixed), '--quiet', '--max-dt', '0.05'])
    out = capsys.readouterr().out
    assert rc == 1 and 'WARN' in out and fixed.is_file(), out
    rc = calibrate(['--check', after, '--calibration', str(fixed), '--quiet', '--max-dt', '0.05'])
    out = capsys.readouterr().out
    dx, dy = (float(v) for v in out.split('lies (')[1].split(')')[0].split(','))
    assert rc == 0 and math.hypot(dx, dy) <= 1.0, out


def test_calibrate_check_on_real_folders_sees_a_shift_of_the_thermal_images(
        shared_data, tmp_path, capsys):
    from calibration.cli import main as calibrate
    from ros2_ssvif.camera_info import CameraInfo
    from ros2_ssvif.registration import Registration

    src = shared_data / 'ivf_seafusion_test12'
    stems = ['00537D', '00556D', '00633D', '00858N', '00881N', '01023N']  # MSRS, 640x480
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    cam = CameraInfo('cam', 640, 480, K, np.zeros(5))
    Registration(cam, cam, np.eye(3), (0, 0, 640, 480), (640, 480)).save(tmp_path / 'id.yaml')
    found = {}
    for name, shift in (('as_is', 0), ('moved', 5)):
        for sub in ('vi', 'ir'):
            (tmp_path / name / sub).mkdir(parents=True)
        for s in stems:
            vis = cv2.imread(str(src / 'vi' / f'{s}.png'))
            ir = cv2.imread(str(src / 'ir' / f'{s}.png'), cv2.IMREAD_GRAYSCALE)
            ir = cv2.warpAffine(ir, np.float32([[1, 0, shift], [0, 1, 0]]), (640, 480),
                                borderMode=cv2.BORDER_REPLICATE)
            cv2.imwrite(str(tmp_path / name / 'vi' / f'{s}.png'), vis)
            cv2.imwrite(str(tmp_path / name / 'ir' / f'{s}.png'), ir)
        rc = calibrate(['--check', str(tmp_path / name / 'vi'), str(tmp_path / name / 'ir'),
                        '--calibration', str(tmp_path / 'id.yaml'), '--quiet'])
        out = capsys.readouterr().out
        assert rc in (0, 1), out
        found[name] = [float(v) for v in out.split('lies (')[1].split(')')[0].split(',')]
    assert found['moved'][0] - found['as_is'][0] == pytest.approx(5.0, abs=1.0), found
    assert found['moved'][1] == pytest.approx(found['as_is'][1], abs=1.0), found
