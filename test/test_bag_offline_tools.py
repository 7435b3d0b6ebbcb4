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
The offline tools beside process_bag given bad input (issue 8, item 9).

register, evaluate_fusion and ssvif_train answer with one line and leave nothing
half-written.
"""
from pathlib import Path
import subprocess
import sys

import cv2
import numpy as np
import pytest
from ros2_ssvif.camera_info import CameraInfo
from ros2_ssvif.registration import Registration
from ros2_ssvif.thermal import ThermalNormalizer
import yaml


REPO = Path(__file__).resolve().parents[1]


def one_line(err: str) -> list[str]:
    """Keep the stderr lines that are ours (not tqdm bars, not OpenCV's own [ WARN] log lines)."""
    return [
        ln
        for ln in err.splitlines()
        if ln.strip()
        and not ln.startswith('[')
        and 'it/s]' not in ln
        and 'pair/s]' not in ln
        and 'img/s]' not in ln
        and '|' not in ln
    ]


@pytest.fixture()
def calibration(tmp_path):
    K = np.array([[60.0, 0, 40.0], [0, 60.0, 30.0], [0, 0, 1]])
    reg = Registration(
        CameraInfo('v', 80, 60, K, np.zeros(5)),
        CameraInfo('t', 80, 60, K, np.zeros(5)),
        np.eye(3),
        (4, 4, 72, 52),
        (72, 52),
    )
    d = tmp_path / 'calib'
    d.mkdir()
    reg.save(d / 'registration.yaml')
    return d


def raw_pairs(tmp_path, n=4, corrupt=None):
    rng = np.random.default_rng(0)
    for sub in ('vis', 'th'):
        (tmp_path / sub).mkdir()
    for i in range(n):
        cv2.imwrite(
            str(tmp_path / 'vis' / f'f{i}.png'), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        )
        cv2.imwrite(
            str(tmp_path / 'th' / f'f{i}.png'), rng.integers(0, 60000, (60, 80), dtype=np.uint16)
        )
    if corrupt is not None:
        (tmp_path / 'th' / f'f{corrupt}.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'cut' * 30)


def register(tmp_path, calib, capsys):
    from calibration.register_cli import main

    rc = main(
        [
            '--calibration',
            str(calib),
            '--visible',
            str(tmp_path / 'vis'),
            '--thermal',
            str(tmp_path / 'th'),
            '--output',
            str(tmp_path / 'out'),
        ]
    )
    return rc, capsys.readouterr()


def test_register_checks_every_input_before_writing(tmp_path, calibration, capsys):
    """Defect: `register` left a partial dataset after a corrupt image."""
    raw_pairs(tmp_path, n=4, corrupt=2)
    rc, out = register(tmp_path, calibration, capsys)
    assert rc == 2 and 'Traceback' not in out.err
    lines = one_line(out.err)
    assert len(lines) == 1 and 'cannot read image' in lines[0] and 'f2.png' in lines[0]
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('edit,text', [
    (lambda d: d.update(version=[1]), 'unsupported registration version [1]'),
    (lambda d: d.update(visible='abc'), 'visible: expected a camera_info mapping'),
    (lambda d: d['thermal']['distortion_coefficients'].update(data=[float('nan')] * 5), 'finite'),
    (lambda d: d['crop'].update(x=500.0), 'lies outside'),
])
def test_register_reports_a_bad_registration_file_in_one_line(
    tmp_path, calibration, capsys, edit, text
):
    """Defect: `register` printed tracebacks for these files."""
    d = yaml.safe_load((calibration / 'registration.yaml').read_text())
    edit(d)
    (calibration / 'registration.yaml').write_text(yaml.safe_dump(d))
    raw_pairs(tmp_path)
    rc, out = register(tmp_path, calibration, capsys)
    assert rc == 2 and 'Traceback' not in out.err
    lines = one_line(out.err)
    assert len(lines) == 1 and text in lines[0], out.err
    assert not (tmp_path / 'out').exists()


def test_register_then_evaluate_a_sixteen_bit_dataset(tmp_path, calibration, capsys):
    """Defect: evaluate_fusion refused the 16-bit thermal that `register` writes."""
    from evaluation.cli import main as evaluate
    from evaluation.metrics import compute_all

    raw_pairs(tmp_path, n=2)
    rc, _ = register(tmp_path, calibration, capsys)
    assert rc == 0
    th = cv2.imread(str(tmp_path / 'out' / 'thermal' / 'f0.png'), cv2.IMREAD_UNCHANGED)
    assert th.dtype == np.uint16
    fused = tmp_path / 'fused'
    fused.mkdir()
    for i in range(2):
        vis = cv2.imread(str(tmp_path / 'out' / 'visible' / f'f{i}.png'))
        cv2.imwrite(str(fused / f'f{i}.png'), vis)  # "fused" = the visible image: a valid input
    rc = evaluate(
        [
            '--ir',
            str(tmp_path / 'out' / 'thermal'),
            '--visible',
            str(tmp_path / 'out' / 'visible'),
            '--fused',
            str(fused),
            '--output',
            str(tmp_path / 'm.csv'),
            '--no-progress',
        ]
    )
    assert rc == 0, capsys.readouterr().err
    import csv

    rows = list(csv.DictReader((tmp_path / 'm.csv').open()))
    # the 16-bit IR is scored as training sees it: ThermalNormalizer for stills, to 8 bits
    ir8 = (ThermalNormalizer().for_stills()(th) * 255.0 + 0.5).astype(np.uint8)
    vis = cv2.cvtColor(cv2.imread(str(tmp_path / 'out' / 'visible' / 'f0.png')), cv2.COLOR_BGR2RGB)
    expect = compute_all(vis, ir8, vis)
    assert float(rows[0]['EN']) == pytest.approx(expect['EN'], abs=1e-5)
    assert float(rows[0]['SSIM']) == pytest.approx(expect['SSIM'], abs=1e-5)


def test_evaluate_fusion_size_check_fires_for_files_with_one_name(tmp_path, capsys):
    """
    Defect: the size check keyed the three images by file name.

    So it never fired when they shared one (ir/a.png, vi/a.png, fused/a.png).
    """
    from evaluation.cli import main as evaluate

    for sub, shape in (('ir', (40, 50)), ('vi', (40, 50, 3)), ('fused', (30, 50, 3))):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / 'a.png'), np.full(shape, 100, np.uint8))
    rc = evaluate(['--ir', str(tmp_path / 'ir'), '--visible', str(tmp_path / 'vi'), '--fused',
                   str(tmp_path / 'fused'), '--output', str(tmp_path / 'm.csv'), '--no-progress'])
    err = capsys.readouterr().err
    assert rc == 2 and "image sizes differ for 'a'" in err and 'fused 30x50' in err
    assert not (tmp_path / 'm.csv').exists()


def test_train_with_a_corrupt_image_and_workers_is_one_line(tmp_path):
    """Defect: a corrupt image with data.workers > 0 printed a 23-line worker traceback."""
    from learning_to_learn_data import TINY_REALTIME

    rng = np.random.default_rng(0)
    root = tmp_path / 'ds'
    for sub in ('vi', 'ir'):
        (root / sub).mkdir(parents=True)
    for i in range(20):
        cv2.imwrite(
            str(root / 'vi' / f'p{i:02d}.png'), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        )
        cv2.imwrite(
            str(root / 'ir' / f'p{i:02d}.png'), rng.integers(0, 255, (40, 40), dtype=np.uint8)
        )
    for i in (7, 13):  # in the training split whichever way the 9:1 split falls
        (root / 'ir' / f'p{i:02d}.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'garbage' * 20)
    sets = [
        'data.kind=pairs',
        f'data.root={root}',
        'data.workers=2',
        'epochs=1',
        *TINY_REALTIME,
        'device=cpu',
    ]
    cmd = [
        sys.executable,
        '-m',
        'training.cli',
        '--no-progress',
        '--output',
        str(tmp_path / 'run'),
    ]
    for s in sets:
        cmd += ['--set', s]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    lines = one_line(r.stderr)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert (
        len(lines) == 1 and 'cannot read image' in lines[0] and 'DataLoader worker' in lines[0]
    ), r.stderr
