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
Compressed drives through process_bag and calibrate's bag source.

image_transport's /compressed: JPEG RGB, 16-bit PNG thermal.
"""
import numpy as np
import pytest
from ros2_ssvif.bag_io import bag_topics, iter_messages
from ros2_ssvif.config import FusionConfig
from ros2_ssvif.image_codec import image_to_array, stamp_seconds
from ros2_ssvif.process_bag import main as process_bag_main
from ros2_ssvif.process_bag import process_bag
from ros2_ssvif.registration import Registration
from ros_helpers import compress_bag


@pytest.fixture(scope='module')
def drive(tmp_path_factory):
    """
    Return a 3 s synthetic drive, raw and compressed, and its registration.

    RGB 30 Hz, 16-bit thermal 9 Hz.
    """
    from simulation.drive import write_drive_bag
    from simulation.rig import default_rig

    d = tmp_path_factory.mktemp('drive')
    rig = default_rig()
    summary = write_drive_bag(d / 'raw', rig, duration_s=3.0, storage='mcap', seed=3)
    counts = compress_bag(d / 'raw', d / 'compressed')
    reg = Registration(
        rig.visible.camera_info(),
        rig.thermal.camera_info(),
        rig.plane_homography_thermal_to_visible(10.0),
        (40, 30, 560, 420),
        (320, 240),
    )
    reg.save(d / 'registration.yaml')
    return {
        'dir': d,
        'summary': summary,
        'counts': counts,
        'registration': d / 'registration.yaml',
    }


def cfg(model, drive):
    return FusionConfig(model_path=str(model), registration_file=str(drive['registration']))


def test_process_bag_fuses_a_compressed_drive(tmp_path, toy_model_path, drive):
    """Defect: on a compressed drive process_bag paired nothing, wrote an empty bag, exited 0."""
    topics = bag_topics(drive['dir'] / 'compressed')
    assert topics['/thermal/image_raw/compressed'] == 'sensor_msgs/msg/CompressedImage'
    assert '/thermal/image_raw' not in topics
    n_thermal = drive['counts']['/thermal/image_raw/compressed']
    s = process_bag(
        drive['dir'] / 'compressed', tmp_path / 'out', cfg(toy_model_path, drive), progress=False
    )
    assert s['topics']['thermal'] == '/thermal/image_raw/compressed'  # found from the raw name
    assert s['counts']['thermal_in'] == n_thermal
    assert s['counts']['published'] >= 0.99 * n_thermal
    out: dict = {}
    for topic, _, msg in iter_messages(tmp_path / 'out'):
        out.setdefault(topic, []).append(msg)
    assert {'/fused/image', '/fused/camera_info', '/segmentation/mask', '/segmentation/color_mask',
            '/segmentation/label_info'} <= set(out)
    assert (
        len(out['/fused/camera_info'])
        == len(out['/segmentation/mask'])
        == s['counts']['published']
    )
    for info, fused, color in zip(
        out['/fused/camera_info'], out['/fused/image'], out['/segmentation/color_mask']
    ):
        assert (info.width, info.height) == (fused.width, fused.height) == (320, 240)
        assert (
            stamp_seconds(info.header)
            == stamp_seconds(fused.header)
            == stamp_seconds(color.header)
        )
        assert color.encoding == 'rgb8'
    K = np.asarray(out['/fused/camera_info'][0].k).reshape(3, 3)
    reg = Registration.from_dict(__import__('yaml').safe_load(drive['registration'].read_text()))
    assert np.allclose(K, reg.output_camera_matrix()) and not np.any(
        out['/fused/camera_info'][0].d
    )
    labels = out['/segmentation/label_info'][0]
    assert [c.class_name for c in labels.class_map][:3] == ['unlabeled', 'road', 'sidewalk']
    print(f"compressed drive: {n_thermal} thermal frames in, {s['counts']['pairs']} pairs, "
          f"{s['counts']['published']} fused ({100 * s['counts']['published'] / n_thermal:.1f} %)")


def test_compressed_and_raw_drives_give_the_same_outputs(tmp_path, toy_model_path, drive):
    raw = process_bag(
        drive['dir'] / 'raw', tmp_path / 'a', cfg(toy_model_path, drive), progress=False
    )
    comp = process_bag(
        drive['dir'] / 'compressed', tmp_path / 'b', cfg(toy_model_path, drive), progress=False
    )
    assert raw['counts']['published'] == comp['counts']['published']
    masks = [
        [image_to_array(m) for t, _, m in iter_messages(tmp_path / x) if t == '/segmentation/mask']
        for x in ('a', 'b')
    ]
    # 16-bit PNG is lossless: the thermal-driven mask is identical; JPEG touches only the visible
    # image
    assert all(np.array_equal(a, b) for a, b in zip(*masks))


def test_a_bag_without_the_thermal_topic_fails_in_one_line_and_writes_nothing(
    tmp_path, toy_model_path, drive, capsys
):
    from ros2_ssvif.bag_io import BagWriter, iter_raw

    with BagWriter(tmp_path / 'rgb_only', 'mcap') as w:
        for topic, msgtype, t, raw in iter_raw(drive['dir'] / 'compressed'):
            if topic.startswith('/rgb'):
                w.write_raw(topic, msgtype, t, raw)
    rc = process_bag_main(
        [
            str(tmp_path / 'rgb_only'),
            str(tmp_path / 'out'),
            '--model',
            str(toy_model_path),
            '--registration',
            str(drive['registration']),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and '\n' not in err and 'has no topic /thermal/image_raw' in err
    assert not (tmp_path / 'out').exists() and list(tmp_path.iterdir()) == [tmp_path / 'rgb_only']


def test_calibrate_bag_source_reads_compressed_drives(drive):
    """`calibrate --bag` on a compressed drive: the same pairs as raw, 16-bit thermal kept."""
    from calibration.sources import read_bag_pairs

    stats: dict = {}
    pairs = list(read_bag_pairs(drive['dir'] / 'compressed', stats=stats))
    raw_pairs = list(read_bag_pairs(drive['dir'] / 'raw'))
    assert len(pairs) == len(raw_pairs) >= 20
    name, vis, th = pairs[0]
    assert vis.shape == (480, 640, 3) and th.dtype == np.uint16
    assert np.array_equal(th, raw_pairs[0][2])
    assert np.abs(vis.astype(int) - raw_pairs[0][1]).mean() < 3.0
