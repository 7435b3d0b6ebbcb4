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
The deployed runtime with distro-era libraries, driven from the main environment.

``scripts/distro_venv.sh`` builds ``.venv-distro`` (Python 3.10 where found,
numpy 1.26.4, OpenCV 4.6, ONNX Runtime 1.16.3 as in NVIDIA's JetPack 6
wheels, matplotlib 3.6). Here the main environment (which has torch)
exports the default model and renders the inputs; the distro venv loads,
fuses and calibrates them in a subprocess, and the results must match the
main environment's. CI builds the venv first (scripts/test.sh), so there
these tests fail instead of skipping when it is missing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess

import numpy as np
import pytest


REPO = Path(__file__).resolve().parents[1]
DISTRO_VENV = Path(os.environ.get('SSVIF_DISTRO_VENV', REPO / '.venv-distro'))

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def distro_python() -> Path:
    py = DISTRO_VENV / 'bin' / 'python'
    if not py.is_file():
        msg = f'{DISTRO_VENV} is missing: build it with `bash scripts/distro_venv.sh`'
        if os.environ.get('CI'):
            pytest.fail(f'{msg} (scripts/test.sh builds it in CI)')
        pytest.skip(msg)
    return py


def run_distro(py: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'MPLBACKEND': 'Agg'}
    return subprocess.run([str(py), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope='module')
def default_export(tmp_path_factory) -> Path:
    """``ssvif_export``'s defaults on a small realtime + SegFormer pair."""
    import torch
    from training.export import export_onnx
    from training.models import build_fusion_model
    from training.models.segformer import SegmentationModel
    from training.segmenter import ScaledSegmenter

    torch.manual_seed(0)
    fusion = build_fusion_model('realtime', width=8, context_width=8, blocks=1,
                                context_blocks=1).eval()
    seg = ScaledSegmenter(SegmentationModel('tiny', 15), 0.5).eval()
    with torch.no_grad():  # class ids that depend on the image
        seg.model.segformer.decode_head.classifier.weight.mul_(50)
    path = tmp_path_factory.mktemp('distro_export') / 'model.onnx'
    export_onnx(fusion, seg, path, 'fmb', sample_hw=(64, 96))
    return path


def test_distro_venv_has_the_distro_era_libraries(distro_python):
    r = run_distro(distro_python, '-c', """if True:
        import json, sys, numpy, cv2, onnxruntime, matplotlib
        print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "numpy": numpy.__version__,
                          "cv2": cv2.__version__, "ort": onnxruntime.__version__,
                          "mpl": matplotlib.__version__}))""")
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert (v['numpy'], v['cv2'], v['ort'], v['mpl']) == ('1.26.4', '4.6.0', '1.16.3', '3.6.3')
    assert v['python'] in ('3.10', '3.11')  # 3.10 wherever the machine has one


def test_default_export_runs_in_onnx_runtime_1_16(distro_python, default_export, tmp_path):
    from ros2_ssvif.model_runner import FusionSegmenter

    rng = np.random.default_rng(3)
    vis = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    thr = rng.random((120, 160), dtype=np.float32)
    np.savez(tmp_path / 'in.npz', vis=vis, thr=thr)
    script = """if True:
        import sys, numpy as np, onnxruntime
        from ros2_ssvif.model_runner import FusionSegmenter
        tmp, model = sys.argv[1], sys.argv[2]
        d = np.load(tmp + "/in.npz")
        m = FusionSegmenter(model)
        fused, ids = m(d["vis"], d["thr"])
        np.savez(tmp + "/out.npz", fused=fused, ids=ids)
        print(onnxruntime.__version__, m.contract, m.providers[0], len(m.notes))"""
    r = run_distro(distro_python, '-c', script, str(tmp_path), str(default_export))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['1.16.3', 'nhwc_uint8', 'CPUExecutionProvider', '0']
    out = np.load(tmp_path / 'out.npz')
    fused, ids = FusionSegmenter(default_export)(vis, thr)
    assert np.abs(out['fused'].astype(int) - fused).max() <= 1
    assert (out['ids'] == ids).mean() > 0.999


def test_process_bag_fuses_a_synthetic_drive_in_the_distro_venv(
        distro_python, default_export, tmp_path):
    from rosbags.rosbag2 import Reader
    from simulation.drive import write_drive_bag
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    write_drive_bag(tmp_path / 'drive', duration_s=1.5, seed=2)
    truth_registration(default_rig(), output_size=(320, 240)).save(tmp_path / 'registration.yaml')
    r = run_distro(distro_python, '-m', 'ros2_ssvif.process_bag', str(tmp_path / 'drive'),
                   str(tmp_path / 'fused'), '--model', str(default_export),
                   '--registration', str(tmp_path / 'registration.yaml'),
                   '--summary', str(tmp_path / 'summary.json'))
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / 'summary.json').read_text())
    counts = summary['counts']
    with Reader(tmp_path / 'fused') as reader:
        written = {c.topic: c.msgcount for c in reader.connections}
    assert counts['pairs'] >= 10 and counts['published'] == counts['pairs']
    assert written['/fused/image'] == written['/segmentation/mask'] == counts['pairs']


def test_calibration_gives_the_main_environments_intrinsics(distro_python, tmp_path):
    """The synthetic rig calibrated with OpenCV 4.6 / numpy 1.26: K within 0.05 % of ours."""
    from calibration.cli import main as calibrate_main
    from ros2_ssvif.camera_info import load_camera_info
    from simulation.boards import write_board_captures
    from simulation.rig import default_rig

    board = 'chessboard:9x6:0.06'
    write_board_captures(tmp_path / 'cap', default_rig(), board, 10, seed=5,
                         dist_range=(1.0, 2.5))
    args = ['--visible', str(tmp_path / 'cap/visible'), '--thermal', str(tmp_path / 'cap/thermal'),
            '--board', board, '--plane-distance', '2', '--output-size', '800x600', '--quiet']
    assert calibrate_main(args + ['--output', str(tmp_path / 'main')]) == 0
    r = run_distro(distro_python, '-m', 'calibration.cli', *args, '--output',
                   str(tmp_path / 'distro'))
    assert r.returncode == 0, r.stderr
    for cam in ('visible', 'thermal'):
        k_main = load_camera_info(tmp_path / 'main' / f'{cam}.yaml').camera_matrix
        k_distro = load_camera_info(tmp_path / 'distro' / f'{cam}.yaml').camera_matrix
        fx_fy_cx_cy = ([0, 1, 0, 1], [0, 1, 2, 2])
        rel = np.abs(k_distro - k_main)[fx_fy_cx_cy] / k_main[fx_fy_cx_cy]
        assert rel.max() <= 5e-4, (cam, rel)


def test_shipped_default_model_runs_in_the_distro_venv(distro_python, tmp_path):
    """models/ssvif_default.onnx: IR <= 9, and process_bag's default model in ORT 1.16."""
    import onnx
    from ros2_ssvif.package_files import DEFAULT_MODEL
    from simulation.drive import write_drive_bag
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    model = REPO / DEFAULT_MODEL
    if not model.is_file():
        pytest.skip(f'{DEFAULT_MODEL} is not in this checkout (scripts/build_default_model.sh)')
    assert onnx.load(str(model), load_external_data=False).ir_version <= 9, \
        'rebuild the default model with this ssvif_export (IR <= 9 for ONNX Runtime 1.16)'
    write_drive_bag(tmp_path / 'drive', duration_s=1.0, seed=4)
    truth_registration(default_rig(), output_size=(320, 240)).save(tmp_path / 'registration.yaml')
    r = run_distro(distro_python, '-m', 'ros2_ssvif.process_bag', str(tmp_path / 'drive'),
                   str(tmp_path / 'fused'), '--registration', str(tmp_path / 'registration.yaml'),
                   '--summary', str(tmp_path / 'summary.json'))
    assert r.returncode == 0, r.stderr
    counts = json.loads((tmp_path / 'summary.json').read_text())['counts']
    assert counts['pairs'] >= 5 and counts['published'] == counts['pairs']
