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

"""scripts/build_default_model.py end to end at toy sizes: every step a user's rebuild runs."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]


def test_smoke_build_writes_a_loadable_bundle_and_every_report(tmp_path, shared_data):
    weights = shared_data.parent / 'weights'
    if not weights.is_dir():
        pytest.skip('../shared/weights (the label teachers) is not beside this checkout')
    spec = importlib.util.spec_from_file_location(
        'build_default_model', REPO / 'scripts' / 'build_default_model.py'
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = tmp_path / 'model' / 'smoke.onnx'
    rc = mod.main(['--smoke', '--data', str(shared_data), '--weights', str(weights),
                   '--output', str(tmp_path / 'out'), '--model-out', str(model), '--no-progress'])
    assert rc == 0
    from ros2_ssvif.model_runner import FusionSegmenter

    bundle = FusionSegmenter(model)
    assert (
        bundle.metadata.extra['fusion_in_channels'] == 1
        and bundle.metadata.extra['fusion_output'] == 'blend'
    )
    assert (model.parent / 'smoke.labels.yaml').is_file()  # class names next to the model
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert set(summary['compare']) == {'vifb21', 'roadscene50_test', 'seafusion_test12',
                                       'msrs_val'}
    for means in summary['compare'].values():
        assert set(means) == {'SSVIF-default'} and 0.0 <= means['SSVIF-default']['DeltaE'] < 100.0
    # the 50 RoadScene test pairs are never trained on (train_split.txt), even in a smoke run
    assert summary['fusion']['epochs'] == 2 and summary['segmenter']['epochs'] == 1
    assert 0.0 <= summary['synthetic_miou']['miou'] <= 1.0
    # masks scored on real boxes for the model, the three comparison inputs and two teachers
    seg = summary['segmentation']
    assert len(seg) == 6 and 'SSVIF-default (fused)' in seg
    assert set(seg['SSVIF-default (fused)']) == {'day', 'night', 'all'}
    report = tmp_path / 'out' / 'report' / 'segmentation_msrs_val'
    assert (report / 'summary.md').is_file() and (report / 'contact_sheet.png').is_file()
    # only training names were labelled: the validation pairs never get a training label
    from ros2_ssvif.image_files import read_name_list
    from training.data.splits import split_file

    labelled = {p.stem for p in (tmp_path / 'out' / 'labels' / 'msrs_test_dev').glob('*.png')}
    assert labelled and not labelled & set(read_name_list(split_file('val')))
    drive = Path(summary['drive_report']).read_text()
    assert '| smoke | running |' in drive and '| max-luminance | percentile |' in drive
    for step in ('1/7', '2/7', '3/7', '4/7', '5/7', '6/7', '7/7'):
        assert any(k.startswith(step) for k in summary['stage_seconds'])
    # a rebuild repeats the segmenter to the last bit (its own process, fixed threads); in the
    # build's process it did not (models/README.md, "One draw of the recipe")
    import torch
    from training.checkpoint import load_checkpoint

    again = tmp_path / 'segmenter_again.pt'
    res = mod.train_seg_isolated(('fusion', summary['fusion']['checkpoint']), shared_data,
                                 tmp_path / 'out' / 'labels', mod.msrs_split(True)[0], again,
                                 False, smoke=True)
    assert res['final_loss'] == summary['segmenter']['final_loss']
    first = load_checkpoint(tmp_path / 'out' / 'segmenter.pt')['segmenter']
    second = load_checkpoint(again)['segmenter']
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_missing_data_is_one_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'bdm', REPO / 'scripts' / 'build_default_model.py'
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(['--data', str(tmp_path), '--output', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'is missing' in err[0]
