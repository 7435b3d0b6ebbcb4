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

"""``ssvif_fuse`` with a tiny checkpoint written by the real trainer (one step on random pairs)."""
from __future__ import annotations

from pathlib import Path

import cv2
from learning_to_learn_data import Pairs
import numpy as np
import pytest
import torch
from training.config import load_config
from training.data.pairs import read_thermal, read_visible
from training.fuse import fuse_tensors, load_for_fusion, main, PAD_MULTIPLE, to_uint8_rgb
from training.trainer import train


TINY = ['model.backbone=realtime',
        'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}',
        'model.segformer=tiny', 'model.seg_head_hidden=8', 'data.batch_size=2', 'data.crop=32',
        'data.workers=0', 'grid_samples=0', 'device=cpu', 'early_stopping_patience=null',
        'epochs=1', 'max_steps_per_epoch=1',
        # a non-default normaliser, so the test sees that fusing uses the checkpoint's settings
        'data.thermal={mode: fixed, fixed_min: 0, fixed_max: 255}']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('run')
    res = train(
        load_config(None, TINY + [f'output_dir={out}']),
        progress=False,
        datasets=(Pairs(2), Pairs(1)),
    )
    return Path(res.last_checkpoint)


def _folders(tmp_path: Path, sizes=(('odd', 37, 29), ('wide', 64, 40))):
    rng = np.random.default_rng(0)
    vi, ir = tmp_path / 'vi', tmp_path / 'ir'
    vi.mkdir()
    ir.mkdir()
    for stem, w, h in sizes:
        cv2.imwrite(str(vi / f'{stem}.png'), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        cv2.imwrite(str(ir / f'{stem}.jpg'), rng.integers(0, 256, (h, w), dtype=np.uint8))
    return vi, ir


def test_fuse_cli_writes_rgb_of_input_size_with_checkpoint_normaliser(
    checkpoint, tmp_path, capsys
):
    vi, ir = _folders(tmp_path)
    out = tmp_path / 'fused'
    assert main(['--checkpoint', str(checkpoint), '--visible', str(vi), '--ir', str(ir),
                 '--output', str(out), '--no-progress']) == 0
    assert '2 fused image(s)' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ['odd.png', 'wide.png']
    odd = cv2.imread(str(out / 'odd.png'), cv2.IMREAD_UNCHANGED)
    assert odd.shape == (29, 37, 3) and odd.dtype == np.uint8
    assert cv2.imread(str(out / 'wide.png')).shape == (40, 64, 3)
    model, norm = load_for_fusion(checkpoint)
    assert (norm.mode, norm.fixed_max) == ('fixed', 255)
    # the file holds what the model makes of the pair read the training way (BGR on disk)
    expect = to_uint8_rgb(
        fuse_tensors(model, read_visible(vi / 'odd.png'), read_thermal(ir / 'odd.jpg', norm))
    )
    np.testing.assert_array_equal(odd[..., ::-1], expect)


def test_padding_does_not_change_an_aligned_image(checkpoint):
    model, _ = load_for_fusion(checkpoint)
    g = torch.Generator().manual_seed(1)
    v = torch.rand(3, 2 * PAD_MULTIPLE, 3 * PAD_MULTIPLE, generator=g)
    t = torch.rand(1, 2 * PAD_MULTIPLE, 3 * PAD_MULTIPLE, generator=g)
    direct = model(v[None], t[None]).fused[0]
    torch.testing.assert_close(fuse_tensors(model, v, t), direct)
    assert to_uint8_rgb(torch.tensor([[[0.0, 0.5, 1.0]]] * 3)).tolist() == [
        [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    ]


def test_an_odd_size_is_padded_as_the_deployed_runtime_pads_it(checkpoint):
    """Defect: replicate-padding to 8 here, mirroring to 32 in the runtime: 46 grey levels."""
    from ros2_ssvif.model_runner import pad_bottom_right

    model, _ = load_for_fusion(checkpoint)
    g = torch.Generator().manual_seed(2)
    v, t = torch.rand(3, 45, 70, generator=g), torch.rand(1, 45, 70, generator=g)
    vp = pad_bottom_right(v.numpy().transpose(1, 2, 0), 64, 96).transpose(2, 0, 1)
    tp = pad_bottom_right(t.numpy()[0], 64, 96)[None]
    assert vp.shape == (3, 64, 96) and np.allclose(vp[:, 45:47, :70], v.numpy()[:, 43:41:-1])
    with torch.no_grad():
        ref = model(torch.from_numpy(vp.copy())[None], torch.from_numpy(tp.copy())[None]).fused
    torch.testing.assert_close(fuse_tensors(model, v, t), ref[0, :, :45, :70].clamp(0, 1))


def test_fuse_errors_are_one_line(checkpoint, tmp_path, capsys):
    vi, ir = _folders(tmp_path)
    junk = tmp_path / 'junk.pt'
    junk.write_bytes(b'not a checkpoint')
    (ir / 'extra.png').write_bytes(cv2.imencode('.png', np.zeros((4, 4), np.uint8))[1].tobytes())
    cases = [(['--checkpoint', str(tmp_path / 'none.pt')], 'checkpoint not found'),
             (['--checkpoint', str(junk)], 'cannot read checkpoint'),
             (['--checkpoint', str(checkpoint)], 'unmatched pairs'),
             (['--model', ''], '--model is empty'),  # was a TypeError traceback
             (['--checkpoint', ' '], '--checkpoint is empty')]
    for extra, needle in cases:
        rc = main(
            [
                *extra,
                '--visible',
                str(vi),
                '--ir',
                str(ir),
                '--output',
                str(tmp_path / 'o'),
                '--no-progress',
            ]
        )
        err = capsys.readouterr().err
        assert rc == 2 and needle in err and err.count('\n') == 1 and 'Traceback' not in err, err


def test_compare_fuses_a_checkpoint_on_the_fly(checkpoint, tmp_path):
    from evaluation.compare import main as compare_main

    vi, ir = _folders(tmp_path, sizes=(('a', 40, 36),))
    out = tmp_path / 'rep'
    assert compare_main(['--visible', str(vi), '--ir', str(ir), '--method', f'SSVIF={checkpoint}',
                         '--output', str(out), '--grid-rows', '1', '--no-progress']) == 0
    assert cv2.imread(str(out / 'fused' / 'SSVIF' / 'a.png')).shape == (36, 40, 3)
    assert '| SSVIF |' in (out / 'summary.md').read_text()


def test_an_output_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    """Defect: `--output afile` gave '[Errno 17] File exists' (or failed after training)."""
    from evaluation.compare import main as compare_main
    from training.cli import main as train_main
    from training.segmenter.cli import main as seg_main

    afile = tmp_path / 'afile'
    afile.write_text('x')
    runs = [
        (main, ['--model', str(afile), '--visible', str(tmp_path), '--ir', str(tmp_path),
                '--output', str(afile)], 'is a file'),
        (train_main, ['--output', str(afile)], 'is a file'),
        (compare_main, ['--visible', str(tmp_path), '--ir', str(tmp_path), '--method',
                        f'X={tmp_path}', '--output', str(afile)], 'is a file'),
        (seg_main, ['--fusion', str(afile), '--data-root', str(tmp_path), '--output',
                    str(tmp_path)], 'is a folder'),
    ]
    for fn, argv, needle in runs:
        rc = fn(argv)
        err = capsys.readouterr().err
        assert rc == 2 and needle in err and err.count('\n') == 1, (fn.__module__, err)
