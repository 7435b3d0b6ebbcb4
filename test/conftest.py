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
Shared test fixtures.

Every test process talks DDS on loopback only, in its own domain, through
the project's Fast DDS profile: set here, before anything imports rclpy.
"""
from __future__ import annotations

import os
from pathlib import Path
import sys

import pytest


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(REPO / 'config' / 'fastdds_localhost.xml')
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('OMP_NUM_THREADS', '2')
os.environ.setdefault('MPLBACKEND', 'Agg')


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout (or $SSVIF_SHARED_DATA)."""
    env = os.environ.get('SSVIF_SHARED_DATA')
    cand = Path(env) if env else REPO.parent / 'shared' / 'data'
    return cand if cand.is_dir() else None


@pytest.fixture(scope='session')
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip(
            '../shared/data is not beside this checkout (set SSVIF_SHARED_DATA to point at it)'
        )
    return d


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO


@pytest.fixture()
def ros():
    """Give one test a fresh rclpy context (the node tests; rclpy is imported only here)."""
    rclpy = pytest.importorskip('rclpy')
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope='session')
def toy_model_path(tmp_path_factory) -> Path:
    from toy_model import write_toy_model

    return write_toy_model(tmp_path_factory.mktemp('model') / 'toy.onnx')


BUMP_AT_S = 4.0  # the synthetic thermal camera is knocked this long into the drive
BUMP_PX = (6.0, 0.0)  # by this much, in raw thermal pixels
BUMP_PLANE_M = 25.0  # the registration's plane: the depth of most edges of the synthetic street


@pytest.fixture(scope='session')
def bump_drives(tmp_path_factory):
    """
    Two 9 s synthetic day drives (RGB 10 Hz, thermal 9 Hz) and the rig's true registration.

    ``bumped``: the thermal camera is knocked by BUMP_PX raw pixels at BUMP_AT_S;
    ``steady``: the same drive without the knock. The registration is the
    simulator's truth with its homography at BUMP_PLANE_M (the synthetic street's
    edges are mostly that far: at the default 12 m the truth registration already
    reads +2.6 px of parallax on it); ``bump_output_px`` is the knock as the
    registered output sees it (simulation.registration_truth.bump_in_output).
    """
    from types import SimpleNamespace

    from simulation.drive import EPOCH_NS, write_drive_bag
    from simulation.registration_truth import bump_in_output, truth_registration
    from simulation.rig import default_rig

    root = tmp_path_factory.mktemp('bump_drives')
    rig = default_rig()
    reg = truth_registration(rig, BUMP_PLANE_M)
    reg.save(root / 'registration.yaml')
    for name, bump in (('bumped', BUMP_PX), ('steady', (0.0, 0.0))):
        write_drive_bag(root / name, rig, duration_s=9.0, rgb_hz=10.0, thermal_hz=9.0,
                        thermal_bump_px=bump, thermal_bump_at_s=BUMP_AT_S)
    return SimpleNamespace(root=root, bumped=root / 'bumped', steady=root / 'steady',
                           registration=root / 'registration.yaml',
                           bump_stamp=EPOCH_NS * 1e-9 + BUMP_AT_S,
                           bump_output_px=bump_in_output(reg, BUMP_PX))
