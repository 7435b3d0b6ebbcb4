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

"""Synthetic renderer, raw captures, drive bags and their CLI."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from ros2_ssvif.image_codec import image_to_array
from rosbags.rosbag2 import Reader
from rosbags.typesys import get_typestore, Stores
from simulation.cli import main
from simulation.dataset import write_raw_captures
from simulation.drive import DriveError, EPOCH_NS, write_drive_bag
from simulation.rig import default_rig
from simulation.scene import (
    BUILDING,
    CAR,
    DriveScenario,
    PERSON,
    POLE,
    random_scene,
    ROAD,
    Scene,
    SceneError,
    SceneObject,
    SceneRenderer,
    SKY,
    VEGETATION,
)


@pytest.fixture(scope='module')
def rig():
    return default_rig()


@pytest.fixture(scope='module')
def renderer(rig):
    return SceneRenderer(rig)


@pytest.fixture(scope='module')
def street():
    return random_scene(np.random.default_rng(3))


@pytest.fixture(scope='module')
def day(renderer, street):
    return renderer.render(street, 'day')


def _lonely_scene() -> Scene:
    """No buildings, a near thin pole (parallax), a person, a car and a dark far person."""
    return Scene(objects=[
        SceneObject('pole', 1.75 - 0.8, 4.0, 0.1, 3.0),
        SceneObject('person', 1.75 + 1.2, 9.0, 0.7, 1.8, (40, 60, 150)),
        SceneObject('car', 1.75, 16.0, 1.8, 1.5, (150, 20, 25)),
        SceneObject('person', -5.5, 22.0, 0.7, 1.75, (30, 30, 30)),
    ], buildings=[], ego_x=1.75, ego_y=0.0, seed=11)


def _pixel(cam, pts_cam):
    uv = cam.project(pts_cam)[0]
    return int(round(uv[1])), int(round(uv[0]))  # row, col


def test_shapes_dtypes_and_labels(day):
    assert day.rgb.shape == (480, 640, 3) and day.rgb.dtype == np.uint8
    assert day.thermal.shape == (512, 640) and day.thermal.dtype == np.uint16
    assert day.label.shape == (480, 640) and day.label_thermal.shape == (512, 640)
    assert day.depth.dtype == np.float32
    assert day.label.max() <= 14 and day.label_thermal.max() <= 14
    present = set(np.unique(day.label).tolist())
    assert {ROAD, SKY, BUILDING, VEGETATION, PERSON, CAR} <= present
    assert np.all(np.isinf(day.depth[day.label == SKY]))
    assert np.all(np.isfinite(day.depth[day.label != SKY]))
    # 14-bit-like counts, sky colder than the scene
    assert day.thermal.max() < 16384
    sky = np.median(day.thermal[day.label_thermal == SKY])
    assert sky < np.median(day.thermal[day.label_thermal == ROAD]) - 1000


def test_render_is_deterministic(renderer, street, day):
    again = renderer.render(street, 'day')
    np.testing.assert_array_equal(again.rgb, day.rgb)
    np.testing.assert_array_equal(again.thermal, day.thermal)
    s1, s2 = random_scene(np.random.default_rng(9)), random_scene(np.random.default_rng(9))
    assert [(o.kind, o.x, o.y) for o in s1.objects] == [(o.kind, o.x, o.y) for o in s2.objects]


def test_people_are_warm_in_thermal(day):
    th, lt = day.thermal.astype(float), day.label_thermal
    person, road = th[lt == PERSON].mean(), th[lt == ROAD].mean()
    background = th[(lt == BUILDING) | (lt == VEGETATION)].mean()
    assert 7000 < background < 9000
    assert person > road + 250
    assert person > background + 1000


def test_geometry_matches_projection_and_has_parallax(renderer, rig):
    scene = _lonely_scene()
    pair = renderer.render(scene, 'day')
    for obj_idx, z, label in ((0, 1.2, POLE), (1, 1.0, PERSON), (2, 0.8, CAR)):
        o = scene.objects[obj_idx]
        p_vis = renderer.world_to_camera(scene, [[o.x, o.y, z]], 'visible')
        r, c = _pixel(rig.visible, p_vis)
        assert pair.label[r, c] == label
        assert pair.depth[r, c] == pytest.approx(p_vis[0, 2], rel=0.01)
        r, c = _pixel(rig.thermal, rig.to_thermal(p_vis))
        assert pair.label_thermal[r, c] == label
    # the thin near pole is not where a rotation-only (infinite distance) mapping puts it
    o = scene.objects[0]
    p_vis = renderer.world_to_camera(scene, [[o.x, o.y, 1.2]], 'visible')
    true_px = rig.thermal.project(rig.to_thermal(p_vis))[0]
    rot_px = rig.thermal.project(p_vis @ rig.R.T)[0]
    assert np.linalg.norm(true_px - rot_px) > 10
    r, c = int(round(rot_px[1])), int(round(rot_px[0]))
    assert pair.label_thermal[r, c] != POLE


def test_lane_marking_and_dark_person(renderer, rig):
    scene = _lonely_scene()
    day = renderer.render(scene, 'day')
    y = 9.0 * 1 + 1.5  # middle of a dash of the centre line
    lum = cv2.cvtColor(day.rgb, cv2.COLOR_RGB2GRAY).astype(float)
    th = day.thermal.astype(float)

    def patch(img, cam, p_world, thermal):
        p = renderer.world_to_camera(scene, [p_world], 'visible')
        r, c = _pixel(cam, rig.to_thermal(p) if thermal else p)
        return np.median(img[r - 1:r + 2, c - 1:c + 2])

    paint, asphalt = (0.0, y, 0.0), (-0.8, y, 0.0)
    assert patch(lum, rig.visible, paint, False) - patch(lum, rig.visible, asphalt, False) > 80
    assert abs(patch(th, rig.thermal, paint, True) - patch(th, rig.thermal, asphalt, True)) < 150
    night = renderer.render(scene, 'night')
    dark = scene.objects[3]
    vis_mask = (night.label == PERSON) & (night.depth > 18)
    th_mask = (night.label_thermal == PERSON) & (night.depth_thermal > 18)
    assert vis_mask.sum() > 100 and th_mask.sum() > 100
    nl = cv2.cvtColor(night.rgb, cv2.COLOR_RGB2GRAY).astype(float)
    assert nl[vis_mask].mean() < 30  # invisible in the dark ...
    road_t = night.thermal[night.label_thermal == ROAD].astype(float).mean()
    assert night.thermal[th_mask].astype(float).mean() > road_t + 1000  # ... bright in LWIR
    assert dark.x < 0


def test_fog_hits_visible_far_more_than_thermal(renderer, street, day):
    fog = renderer.render(street, 'fog')
    far_v = np.isfinite(day.depth) & (day.depth > 25)
    far_t = np.isfinite(day.depth_thermal) & (day.depth_thermal > 25)
    assert far_v.sum() > 2000 and far_t.sum() > 2000

    def lum(rgb):
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(float)

    vis_ratio = lum(fog.rgb)[far_v].std() / lum(day.rgb)[far_v].std()
    th_ratio = fog.thermal[far_t].astype(float).std() / day.thermal[far_t].astype(float).std()
    assert vis_ratio < 0.35
    assert th_ratio > 0.6


def test_glare_washes_out_visible_only(renderer, street, day):
    glare = renderer.render(street, 'glare')
    assert glare.rgb.astype(float).mean() > day.rgb.astype(float).mean() + 30
    assert (glare.rgb.min(axis=2) >= 250).mean() > 0.02
    assert abs(glare.thermal.astype(float).mean() - day.thermal.astype(float).mean()) < 50


def test_bad_input_raises():
    with pytest.raises(SceneError, match='unknown condition'):
        SceneRenderer(default_rig()).render(Scene(), 'rain')
    with pytest.raises(SceneError, match='unknown object kind'):
        SceneObject('unicorn', 0, 5, 1, 1)
    with pytest.raises(SceneError, match='outside'):
        DriveScenario(0, duration_s=2).scene_at(5.0)


def test_drive_scenario_is_smooth():
    sc = DriveScenario(4, duration_s=10)
    a, b = sc.scene_at(2.0), sc.scene_at(2.0 + 1 / 30)
    assert b.ego_y - a.ego_y == pytest.approx(8.0 / 30)
    lead_a, lead_b = a.objects[-1], b.objects[-1]
    assert abs(lead_b.y - lead_a.y) < 0.5
    walkers_a = {(round(o.x, 6), o.color): o.y for o in a.objects if o.kind == 'person'}
    walkers_b = {(round(o.x, 6), o.color): o.y for o in b.objects if o.kind == 'person'}
    common = set(walkers_a) & set(walkers_b)
    assert common and all(abs(walkers_a[k] - walkers_b[k]) < 0.1 for k in common)


def test_raw_captures_round_trip(tmp_path, rig, renderer):
    names = write_raw_captures(tmp_path, rig, 1, seed=5, conditions=('night',))
    assert names == ['frame_0000']
    rng = np.random.default_rng(5)
    pair = renderer.render(random_scene(rng), 'night', rng=np.random.default_rng([5, 0]))
    vis = cv2.imread(str(tmp_path / 'visible' / 'frame_0000.png'), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(vis[:, :, ::-1], pair.rgb)
    th = cv2.imread(str(tmp_path / 'thermal' / 'frame_0000.png'), cv2.IMREAD_UNCHANGED)
    assert th.dtype == np.uint16
    np.testing.assert_array_equal(th, pair.thermal)
    lab = cv2.imread(str(tmp_path / 'labels' / 'frame_0000.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(lab, pair.label)
    with pytest.raises(SceneError, match='positive'):
        write_raw_captures(tmp_path / 'x', rig, 0)


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_drive_bag_round_trip(tmp_path, rig, renderer, storage):
    bag = tmp_path / 'drive'
    summary = write_drive_bag(bag, rig, duration_s=0.7, rgb_hz=20.0, thermal_hz=9.0,
                              storage=storage, seed=2)
    assert summary['counts']['/rgb/image_raw'] == 14
    assert summary['counts']['/thermal/image_raw'] in (6, 7)
    ts = get_typestore(Stores.ROS2_HUMBLE)
    stamps: dict[str, list[int]] = {}
    assert len(list(bag.glob('*.db3' if storage == 'sqlite3' else '*.mcap'))) == 1
    with Reader(bag) as reader:
        for conn, log_ns, raw in reader.messages():
            msg = ts.deserialize_cdr(raw, conn.msgtype)
            st = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            assert 0 < log_ns - st < 30_000_000  # logged a few ms after capture
            stamps.setdefault(conn.topic, []).append(st)
            if conn.topic == '/rgb/image_raw':
                got = (msg.encoding, msg.height, msg.width, msg.header.frame_id)
                assert got == ('rgb8', 480, 640, 'visible_optical_frame')
            elif conn.topic == '/thermal/image_raw':
                got = (msg.encoding, msg.height, msg.width, msg.is_bigendian)
                assert got == ('mono16', 512, 640, 0)
                assert msg.header.frame_id == 'thermal_optical_frame'
                if len(stamps[conn.topic]) == 1:  # values survive the bag bit for bit
                    t = (st - EPOCH_NS) / 1e9
                    scene = DriveScenario(2, duration_s=1.7).scene_at(t)
                    expect, _, _ = renderer.render_thermal(scene, 'day',
                                                           np.random.default_rng([2, 1, 0]))
                    np.testing.assert_array_equal(image_to_array(msg), expect)
            elif conn.topic == '/thermal/camera_info':
                np.testing.assert_allclose(np.asarray(msg.k).reshape(3, 3), rig.thermal.K)
                np.testing.assert_allclose(msg.d, rig.thermal.dist)
    assert len(stamps['/rgb/camera_info']) == 14
    assert stamps['/rgb/camera_info'] == stamps['/rgb/image_raw']
    for topic, hz in (('/rgb/image_raw', 20.0), ('/thermal/image_raw', 9.0)):
        s = np.array(stamps[topic])
        assert s[0] >= EPOCH_NS and np.all(np.diff(s) > 0)
        period = np.diff(s) / 1e9
        assert np.median(period) == pytest.approx(1 / hz, rel=0.05)
        assert np.all(np.abs(period - 1 / hz) < 0.02)
        assert period.std() > 0  # jittered, not a perfect clock


def test_drive_bad_args(tmp_path):
    with pytest.raises(DriveError, match='storage'):
        write_drive_bag(tmp_path / 'b', storage='rosbag1')
    (tmp_path / 'exists').mkdir()
    with pytest.raises(DriveError, match='already exists'):
        write_drive_bag(tmp_path / 'exists', duration_s=0.1)


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(['captures', '--output', str(tmp_path / 'c'), '--count', '0'])
    assert e.value.code != 0
    full = tmp_path / 'bag'
    full.mkdir()
    (full / 'metadata.yaml').write_text('x')
    assert main(['drive', '--output', str(full), '--duration', '0.1']) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('ssvif_make_synthetic: error:') and 'already exists' in err[-1]


def test_scene_rooms_and_the_old_imports_agree():
    """
    The names callers import from simulation.scene are the rooms' own objects.

    scene.py was split into world / silhouettes / scenario / renderer.
    """
    import simulation.renderer as renderer_mod
    import simulation.scenario as scenario_mod
    import simulation.scene as scene_mod
    import simulation.silhouettes as silhouettes_mod
    import simulation.world as world_mod

    assert scene_mod.SceneRenderer is renderer_mod.SceneRenderer
    assert scene_mod.DriveScenario is scenario_mod.DriveScenario
    assert scene_mod.random_scene is scenario_mod.random_scene
    assert scene_mod.SILHOUETTES is silhouettes_mod.SILHOUETTES
    assert scene_mod.Scene is world_mod.Scene
    assert scene_mod.CONDITIONS == ('day', 'night', 'fog', 'glare')
    assert set(silhouettes_mod.SILHOUETTES) == set(world_mod.KIND_LABEL)


def test_thermal_sensor_counts_polarity_and_blur():
    from simulation.sensors import ThermalSensor

    refl = np.ones((40, 80), np.float32)
    refl[:, 40:] = 0.0  # white left half, black right half
    rng = np.random.default_rng(0)
    inv = ThermalSensor(1.5, noise=0.0, gradient=0.0).capture(refl, rng)
    assert inv.dtype == np.uint16 and inv[:, :30].mean() == pytest.approx(7000, abs=1)
    assert inv[:, 50:].mean() == pytest.approx(7900, abs=1)  # inverted: black squares are warm
    nor = ThermalSensor(1.5, noise=0.0, gradient=0.0, polarity='normal').capture(refl, rng)
    assert nor[:, :30].mean() > nor[:, 50:].mean()
    # the optics blur acts on the counts: the 16-84 % rise of the edge spans two sigma
    row = inv[20].astype(float)
    frac = (row - 7000) / 900
    x16, x84 = np.interp([0.16, 0.84], frac[30:50], np.arange(30, 50))
    assert x84 - x16 == pytest.approx(3.0, abs=0.3)
    agc = ThermalSensor(1.5, bits=8).capture(refl, rng)
    assert agc.dtype == np.uint8 and agc.min() == 0 and agc.max() == 255
    with pytest.raises(ValueError, match='polarity'):
        ThermalSensor(polarity='hot')


def test_intrinsic_captures_show_the_board_to_one_camera():
    from calibration.boards import parse_board
    from simulation.boards import render_intrinsic_captures
    from simulation.rig import blurred_thermal_rig

    rig, board = blurred_thermal_rig(), parse_board('chessboard:7x5:0.07')
    assert rig.t[2] == pytest.approx(0.002)
    assert (rig.visible.width, rig.thermal.width) == (800, 640)
    caps = render_intrinsic_captures(rig, board, 'thermal', 2, seed=4, dist_range=(1.0, 2.0))
    for img, pose in caps:
        assert img.shape == (512, 640) and img.dtype == np.uint16
        px = rig.thermal.project(rig.to_thermal(pose.points_in_visible(board.object_points())))
        assert px.min() > 0 and px[:, 0].max() < 640 and px[:, 1].max() < 512
    with pytest.raises(ValueError, match='camera'):
        render_intrinsic_captures(rig, board, 'lidar', 1)
