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
Files that are not what they seem (issue 17): FIFOs, devices, huge files, image bombs.

Every reader of a registration, model, calibration, params or labels file goes
through ros2_ssvif/safe_files.py; every image a command decodes is sized from
its header first (ros2_ssvif/image_files.py). Each case: one readable line.
"""
import os
from pathlib import Path
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
from ros2_ssvif.config import ConfigError, FusionConfig, read_params_file
from ros2_ssvif.image_files import image_header_size, ImageFileError, read_image_file
from ros2_ssvif.registration import load_registration, RegistrationError
from ros2_ssvif.safe_files import FileCheckError, read_text_file


BOMB = (10000, 10000)  # 100 MP: above the tools' 8K limit, below OpenCV's and pillow's own


def png_bomb(path: Path, size=BOMB) -> Path:
    """Write a valid PNG header declaring ``size`` pixels (grey 8-bit) with almost no data."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

    ihdr = struct.pack('>IIBBBBB', size[0], size[1], 8, 0, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
                     + chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))
    return path


def jpeg_bomb(path: Path, size=BOMB) -> Path:
    """Write a real small JPEG whose SOF0 header is patched to declare ``size`` pixels."""
    ok, data = cv2.imencode('.jpg', np.full((16, 16, 3), 128, np.uint8))
    data = bytearray(data.tobytes())
    at = data.index(b'\xff\xc0')
    data[at + 5:at + 9] = struct.pack('>HH', size[1], size[0])
    path.write_bytes(bytes(data))
    return path


def finishes(fn, *args):
    """Run ``fn`` in a thread; a FIFO open that blocks would never come back (hang detector)."""
    box = {}

    def target():
        try:
            box['value'] = fn(*args)
        except Exception as exc:  # noqa: B902 - handed to the test
            box['error'] = exc
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), f'{fn.__name__} blocked on {args}'
    return box


def test_fifo_device_folder_and_huge_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / 'r.fifo'
    os.mkfifo(fifo)
    big = tmp_path / 'big.yaml'
    with open(big, 'wb') as f:
        f.truncate(64 << 20)  # sparse: 64 MiB on paper
    for path, text in ((fifo, 'a FIFO'), ('/dev/zero', 'a character device'),
                       (tmp_path, 'a folder'), (big, 'too large'),
                       (tmp_path / 'none.yaml', 'not found')):
        box = finishes(read_text_file, path, 'registration file')
        assert isinstance(box.get('error'), FileCheckError) and text in str(box['error'])
        box = finishes(load_registration, path)
        assert isinstance(box.get('error'), RegistrationError), box
        assert '\n' not in str(box['error'])


def test_a_fifo_as_model_or_registration_is_named_not_a_regular_file(tmp_path, toy_model_path):
    """Defect: a FIFO model_path was "model file not found"; a FIFO registration blocked."""
    fifo = tmp_path / 'model.onnx'
    os.mkfifo(fifo)
    box = finishes(FusionConfig(model_path=str(fifo)).check_files)
    assert isinstance(box.get('error'), ConfigError)
    assert str(box['error']) == f'model_path: model file is not a regular file: {fifo} (a FIFO)'
    box = finishes(FusionConfig(model_path=str(toy_model_path),
                                registration_file='/dev/zero').check_files)
    assert 'registration_file: registration file is not a regular file' in str(box['error'])
    box = finishes(read_params_file, fifo)
    assert isinstance(box.get('error'), ConfigError) and 'not a regular file' in str(box['error'])


def test_a_registration_output_larger_than_the_frames_allowed_is_refused(
        tmp_path, toy_model_path):
    """Defect: an 8192x8192 output built gigabytes of remap tables before anything failed."""
    from ros_helpers import small_registration
    import yaml

    reg_file, _ = small_registration(tmp_path)
    d = yaml.safe_load(reg_file.read_text())
    d['output'] = {'width': 4096, 'height': 2048}
    reg_file.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match=r'output 4096x2048 = 8388608 pixels is more than '
                                          r'max_input_pixels=4194304'):
        FusionConfig(model_path=str(toy_model_path), registration_file=str(reg_file)
                     ).check_files()
    d['output'] = {'width': 8192, 'height': 8192}
    reg_file.write_text(yaml.safe_dump(d))
    with pytest.raises(RegistrationError, match='remap tables would take gigabytes'):
        load_registration(reg_file)


def test_image_headers_are_read_without_decoding(tmp_path):
    assert image_header_size(png_bomb(tmp_path / 'b.png')) == BOMB
    assert image_header_size(jpeg_bomb(tmp_path / 'b.jpg')) == BOMB
    for bomb in (tmp_path / 'b.png', tmp_path / 'b.jpg'):
        with pytest.raises(ImageFileError, match='declares 10000x10000 pixels'):
            read_image_file(bomb)
    with pytest.raises(ImageFileError, match='declares more than 178956970 pixels'):
        read_image_file(png_bomb(tmp_path / 'c.png', (20000, 20000)))  # pillow's bomb limit
    fifo = tmp_path / 'f.png'
    os.mkfifo(fifo)
    box = finishes(read_image_file, fifo)
    assert 'not a regular file' in str(box['error'])


def sources(tmp_path, bomb_in='ir', kind='png', n=2):
    """vi/ and ir/ folders of 64x48 pairs; pair 0 of ``bomb_in`` is a bomb."""
    rng = np.random.default_rng(0)
    for sub in ('vi', 'ir'):
        (tmp_path / sub).mkdir(parents=True)
        for i in range(n):
            shape = (48, 64, 3) if sub == 'vi' else (48, 64)
            cv2.imwrite(str(tmp_path / sub / f'p{i}.{kind}'),
                        rng.integers(0, 255, shape, dtype=np.uint8))
    (tmp_path / bomb_in / f'p0.{kind}').unlink()
    (png_bomb if kind == 'png' else jpeg_bomb)(tmp_path / bomb_in / f'p0.{kind}')
    return tmp_path / 'vi', tmp_path / 'ir'


def ours(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.strip() and not ln.startswith('[')
            and '|' not in ln]


def fuse(vi, ir, out, model):
    from training.fuse import main

    return main(['--model', str(model), '--visible', str(vi), '--ir', str(ir), '--output',
                 str(out / 'fused'), '--no-progress'])


def evaluate(vi, ir, out, model):
    from evaluation.cli import main

    return main(['--ir', str(ir), '--visible', str(vi), '--fused', str(vi), '--output',
                 str(out / 'm.csv'), '--no-progress'])


def compare(vi, ir, out, model):
    from evaluation.compare import main

    return main(['--visible', str(vi), '--ir', str(ir), '--method', f'V={vi}', '--output',
                 str(out / 'report'), '--no-progress'])


def calibrate(vi, ir, out, model):
    from calibration.cli import main

    return main(['--visible', str(vi), '--thermal', str(ir), '--board', 'chessboard:9x6:0.04',
                 '--output', str(out / 'calib'), '--quiet'])


def register(vi, ir, out, model):
    from calibration.register_cli import main
    from ros_helpers import small_registration

    (out / 'calib').mkdir()
    small_registration(out / 'calib')
    return main(['--calibration', str(out / 'calib'), '--visible', str(vi), '--thermal',
                 str(ir), '--output', str(out / 'dataset')])


@pytest.mark.parametrize('tool', [fuse, evaluate, compare, calibrate, register],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize('kind', ['png', 'jpg'])
def test_every_tool_refuses_an_image_bomb_before_decoding(tool, kind, tmp_path,
                                                          toy_model_path, capsys):
    """Defect: each command handed a 10000x10000 header to cv2.imread (100 MB and more)."""
    vi, ir = sources(tmp_path / 'in', 'ir', kind)
    out = tmp_path / 'out'
    out.mkdir()
    rc = tool(vi, ir, out, toy_model_path)
    lines = ours(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1, lines
    assert 'declares 10000x10000 pixels' in lines[0] and 'refused before decoding' in lines[0]


def test_evaluate_drive_refuses_a_frame_bomb_from_its_header(tmp_path, capsys):
    from evaluation.drive_quality import main
    from ros2_ssvif.bag_io import BagWriter
    from test_bag_tools import header

    data = np.frombuffer(png_bomb(tmp_path / 'b.png').read_bytes(), np.uint8)
    with BagWriter(tmp_path / 'drive', 'mcap') as w:
        Compressed = w.msg_class('sensor_msgs/msg/CompressedImage')
        for k in range(3):
            for topic, fmt in (('/rgb/image_raw', 'mono8; png compressed mono8'),
                               ('/thermal/image_raw', 'mono8; png compressed mono8')):
                msg = Compressed(header=header(w, 10.0 + k / 10, 'f'), format=fmt, data=data)
                w.write(topic, 'sensor_msgs/msg/CompressedImage', int((10 + k / 10) * 1e9), msg)
    rc = main(['--bag', str(tmp_path / 'drive')])
    err = ours(capsys.readouterr().err)
    assert rc == 2 and len(err) == 1 and 'frame 10000x10000 has more than' in err[0], err
