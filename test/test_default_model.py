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
The shipped default model: found, run, colour kept, same as the node.

It is found where the package installs it, it runs on the runtime, it keeps the visible
colour, and ``ssvif_fuse --model`` equals what the node publishes.
"""
from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys
import venv

import cv2
import numpy as np
import pytest
from ros2_ssvif.classes import CLASS_SETS
from ros2_ssvif.model_runner import FusionSegmenter
from ros2_ssvif.package_files import DEFAULT_MODEL


REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / DEFAULT_MODEL


@pytest.fixture(scope='module')
def default_model() -> FusionSegmenter:
    assert MODEL.is_file(), (
        f'{MODEL} is not in the checkout (rebuild: bash scripts/build_default_model.sh)'
    )
    return FusionSegmenter(MODEL)


def test_default_model_metadata_and_labels_file(default_model):
    names, palette = CLASS_SETS['fmb']
    assert default_model.class_names == list(names)
    assert [tuple(c) for c in default_model.metadata.palette[: len(names)]] == [
        tuple(c) for c in palette
    ]
    meta = default_model.metadata.extra
    assert meta.get('fusion_backbone') == 'realtime' and meta.get('fusion_in_channels') == 1


def _ycc(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float32)


def test_default_model_keeps_visible_colour_on_a_real_pair(default_model, shared_data):
    """
    Luma is fused, chroma is the visible camera's.

    Cr/Cb of the output equal the input's wherever the recombined colour is in gamut (rounding: 1
    level), while the luma takes thermal in.
    """
    root = shared_data / 'ivf_roadscene50'
    vis = cv2.cvtColor(cv2.imread(str(root / 'vi' / 'FLIR_00211.jpg')), cv2.COLOR_BGR2RGB)
    ir = cv2.imread(str(root / 'ir' / 'FLIR_00211.jpg'), cv2.IMREAD_GRAYSCALE)
    fused, ids = default_model(vis, ir.astype(np.float32) / 255.0)
    assert fused.shape == vis.shape and fused.dtype == np.uint8 and ids.shape == vis.shape[:2]
    assert int(ids.max()) < len(default_model.class_names)
    fy, vy = _ycc(fused), _ycc(vis)
    in_gamut = (fused > 2).all(axis=2) & (fused < 253).all(axis=2)
    chroma_err = np.abs(fy[..., 1:] - vy[..., 1:]).max(axis=2)[in_gamut]
    assert in_gamut.mean() > 0.8 and np.percentile(chroma_err, 99) <= 2.0
    # the luma is neither the visible nor the thermal image alone
    assert np.abs(fy[..., 0] - vy[..., 0]).mean() > 3.0 and np.abs(fy[..., 0] - ir).mean() > 3.0


def test_default_model_resolves_from_the_share_directory_of_an_installed_tree(tmp_path):
    """
    Build the wheel and install it into a fresh venv.

    Then ask the installed package for its model.
    """
    assert MODEL.is_file()
    # build from a copy of the package's files: setuptools writes build/ into the tree it builds
    src = tmp_path / 'src'
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            '.git',
            '.venv*',
            'out',
            'build',
            'runs',
            '*.egg-info',
            '__pycache__',
            'demo_output',
            '.pytest_cache',
        ),
    )
    wheels = tmp_path / 'wheels'
    subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-build-isolation',
            '--quiet',
            '-w',
            str(wheels),
            str(src),
        ],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(wheels.glob('ros2_ssvif-*.whl'))
    env_dir = tmp_path / 'venv'
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / 'bin' / 'python'
    subprocess.run(
        [str(py), '-m', 'pip', 'install', '--no-deps', '--no-index', '--quiet', str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    code = ('from ros2_ssvif.package_files import resolve_model_path as r, share_dirs as s;'
            "print(r('')); print(r('models/ssvif_default.onnx')); print(s()[0])")
    out = subprocess.run(
        [str(py), '-c', code],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={'PATH': '/usr/bin:/bin'},
    ).stdout.split()
    share = env_dir / 'share' / 'ros2_ssvif'
    assert Path(out[0]) == share / 'models' / 'ssvif_default.onnx' == Path(out[1])
    assert Path(out[2]) == share
    assert Path(out[0]).read_bytes() == MODEL.read_bytes()
    assert (share / 'models' / 'README.md').is_file()  # the model card travels with it


@pytest.mark.ros
@pytest.mark.parametrize('depth', [8, 16])
def test_ssvif_fuse_model_equals_what_the_node_publishes(tmp_path, shared_data, depth):
    """
    The same pair through `ssvif_fuse --model` and through fusion_node: identical.

    `ssvif_fuse --model` reads files, fusion_node gets DDS: identical fused image and mask.
    16-bit: the node's running window starts at the frame's own percentiles, which is what folders
    get (stills).
    """
    rclpy = pytest.importorskip('rclpy')
    from ros2_ssvif.image_codec import image_to_array
    from ros_helpers import node_params, NodeHarness, ros_image, spin_until
    from training.fuse import main as fuse_main

    root = shared_data / 'ivf_roadscene50'
    vis = cv2.cvtColor(cv2.imread(str(root / 'vi' / 'FLIR_00977.jpg')), cv2.COLOR_BGR2RGB)[
        :160, :224
    ]
    ir = cv2.imread(str(root / 'ir' / 'FLIR_00977.jpg'), cv2.IMREAD_GRAYSCALE)[:160, :224]
    thr = ir if depth == 8 else (ir.astype(np.uint16) * 37 + 9000)  # raw-count-like 16-bit
    for d in ('vi', 'ir'):
        (tmp_path / d).mkdir()
    cv2.imwrite(str(tmp_path / 'vi' / 'a.png'), cv2.cvtColor(vis, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / 'ir' / 'a.png'), thr)
    assert (
        fuse_main(
            [
                '--model',
                str(MODEL),
                '--visible',
                str(tmp_path / 'vi'),
                '--ir',
                str(tmp_path / 'ir'),
                '--output',
                str(tmp_path / 'fused'),
                '--masks',
                str(tmp_path / 'masks'),
                '--no-progress',
            ]
        )
        == 0
    )
    files_fused = cv2.cvtColor(cv2.imread(str(tmp_path / 'fused' / 'a.png')), cv2.COLOR_BGR2RGB)
    files_mask = cv2.imread(str(tmp_path / 'masks' / 'a.png'), cv2.IMREAD_UNCHANGED)

    rclpy.init()
    h = NodeHarness(node_params(MODEL, thermal_normalization='auto'), ns=f'/eq{depth}')
    try:
        h.wait_ready()
        h.rgb.publish(ros_image(vis, 'rgb8', 50.0, 'visible_optical_frame'))
        h.th.publish(
            ros_image(thr, 'mono8' if depth == 8 else 'mono16', 50.002, 'thermal_optical_frame')
        )
        spin_until(h.ex, lambda: False, 0.2)
        h.rgb.publish(ros_image(vis, 'rgb8', 51.0, 'visible_optical_frame'))  # decides the pair
        assert spin_until(h.ex, lambda: h.fused and h.mask, 30.0)
        node_fused, node_mask = image_to_array(h.fused[0]), image_to_array(h.mask[0])
    finally:
        h.close()
        rclpy.try_shutdown()
    assert files_fused.shape == node_fused.shape == vis.shape
    np.testing.assert_array_equal(files_fused, node_fused)
    np.testing.assert_array_equal(files_mask, node_mask)
