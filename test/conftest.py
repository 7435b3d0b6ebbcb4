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


@pytest.fixture(scope='session')
def toy_model_path(tmp_path_factory) -> Path:
    from toy_model import write_toy_model

    return write_toy_model(tmp_path_factory.mktemp('model') / 'toy.onnx')
