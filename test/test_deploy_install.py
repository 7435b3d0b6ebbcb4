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
scripts/install.sh over a ROS 2 distro keeps the distro's numpy, OpenCV and PyYAML.

A distro's Python packages are found outside the venv (``/usr/lib/python3/
dist-packages``, ``/opt/ros/$ROS_DISTRO/...`` on PYTHONPATH). Here a folder on
PYTHONPATH holds numpy 1.26.4, OpenCV 4.6, PyYAML and the rclpy wheels, as a
distro would, and install.sh runs with ROS_DISTRO set into a fresh venv: the
venv must end up with ONNX Runtime and rosbags but without its own numpy,
OpenCV, PyYAML or rclpy, and importing them must still give the distro's.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
import subprocess
import sys

import pytest


REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def distro_era_python() -> str:
    """Python 3.10 where the machine has one (Humble, JetPack 6), else this interpreter."""
    pyenv = os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv'))
    candidates = sorted(glob.glob(f'{pyenv}/versions/3.10*/bin/python3.10'))
    for cand in candidates + ['/usr/bin/python3.10']:
        if os.access(cand, os.X_OK):
            return cand
    return getattr(sys, '_base_executable', sys.executable)


@pytest.fixture(scope='module')
def distro_system(tmp_path_factory) -> tuple[str, Path]:
    python = distro_era_python()
    system = tmp_path_factory.mktemp('distro') / 'dist-packages'
    r = subprocess.run([python, '-m', 'pip', 'install', '--quiet', '--target', str(system),
                        '-c', str(REPO / 'requirements/distro-constraints.txt'),
                        'numpy==1.26.4', 'opencv-contrib-python-headless==4.6.0.66',
                        'PyYAML==6.0.1', '-r', str(REPO / 'requirements/ros-wheels.txt')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return python, system


def test_install_with_ros_distro_keeps_the_distros_numpy_and_opencv(distro_system, tmp_path):
    python, system = distro_system
    venv = tmp_path / 'venv'
    env = {**os.environ, 'ROS_DISTRO': 'humble', 'PYTHONPATH': str(system), 'PYTHON': python,
           'SSVIF_VENV': str(venv)}
    r = subprocess.run(['bash', 'scripts/install.sh', 'runtime'], cwd=REPO, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f'numpy 1.26.4 from {system}/numpy' in r.stdout
    assert f'cv2 4.6.0 from {system}/cv2' in r.stdout
    site = next(venv.glob('lib/python3.*/site-packages'))
    own = {p.name.split('-')[0].lower() for p in site.iterdir()}
    assert not own & {'numpy', 'cv2', 'opencv_contrib_python_headless', 'yaml', 'pyyaml', 'rclpy'}
    assert {'onnxruntime', 'rosbags'} <= own
    check = subprocess.run([str(venv / 'bin/python'), '-c',
                            'import numpy, cv2, onnxruntime, rosbags.rosbag2;'
                            'from ros2_ssvif.model_runner import FusionSegmenter;'
                            'print(numpy.__file__, cv2.__version__, onnxruntime.__version__)'],
                           env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    numpy_file, cv_version, ort_version = check.stdout.split()
    assert numpy_file.startswith(str(system)) and cv_version == '4.6.0'
    new_python = subprocess.run([python, '-c', 'import sys; print(sys.version_info >= (3, 12))'],
                                capture_output=True, text=True).stdout.strip() == 'True'
    assert ort_version == ('1.17.3' if new_python else '1.16.3')  # requirements/ros-distro.txt


def test_full_profile_is_refused_over_a_distro(tmp_path):
    env = {**os.environ, 'ROS_DISTRO': 'humble', 'SSVIF_VENV': str(tmp_path / 'venv')}
    r = subprocess.run(['bash', 'scripts/install.sh', 'full'], cwd=REPO, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and not (tmp_path / 'venv').exists()
    assert r.stderr.startswith('install.sh: ROS_DISTRO=humble is sourced: the full profile')
