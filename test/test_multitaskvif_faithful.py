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
MultiTaskVIF against its paper: the MTH's size (Table 7), what early stopping watches (4.1).

Table 7's totals (3-channel input) less the published sizes of the
backbones' plain fusion models give what the MTH adds; variant I is taken
against the paper's own SwinF. row (1.71 M). Its "FLOPs" are MACs.
"""
from __future__ import annotations

import copy
from pathlib import Path

from framework_data import LabelledScenes
from learning_to_learn_data import one_thread  # noqa: F401 (a fixture)
import pytest
import torch
import torch.nn.functional as F
from training.config import load_config
from training.distributed import init_distributed
from training.frameworks import build_framework, Framework
from training.frameworks.ssvif import fusion_loss_for
from training.loop.core import to_device
from training.models import count_macs, count_parameters, fusion_model_from_config
from training.trainer import Trainer


CONFIGS = Path(__file__).resolve().parents[1] / 'config' / 'training'
# variant: (config, MTH increment in M params, Table 7 total GMACs at 256x256)
TABLE7 = {
    'I': ('multitaskvif.yaml', 2.47 - 1.71, 125.26),
    'II': ('multitaskvif_emma.yaml', 2.13 - 1.51, 49.08),
    'III': ('multitaskvif_seafusion.yaml', 0.93 - 0.17, 60.84),
    'IV': ('multitaskvif_segmif.yaml', 1.28 - 0.69, 83.83),
}


pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors: one thread


def _plain(model_cfg):
    plain = copy.deepcopy(model_cfg)
    plain.decoder = 'default'
    return fusion_model_from_config(plain)


@pytest.mark.parametrize('variant', sorted(TABLE7))
def test_mth_adds_table7_parameters_and_macs(variant):
    file, increment, gmacs = TABLE7[variant]
    cfg = load_config(CONFIGS / file)
    mth, plain = fusion_model_from_config(cfg.model), _plain(cfg.model)
    added = (count_parameters(mth) - count_parameters(plain)) / 1e6
    assert added == pytest.approx(increment, rel=0.2)
    if variant != 'I':  # the paper's SwinF. is not ours (1.71 vs 0.96 M): its total differs
        x = (torch.rand(1, 3, 256, 256), torch.rand(1, 1, 256, 256))
        assert count_macs(mth, x) / 1e9 == pytest.approx(gmacs, rel=0.2)


def test_compact_head_stays_available():
    cfg = load_config(CONFIGS / 'multitaskvif_emma.yaml',
                      ['model.decoder_kwargs={hia: true, heads: 4, width: backbone}'])
    mth = fusion_model_from_config(cfg.model)
    assert mth.decoder.width == 16  # the U-Fuser's 8 feature channels, at least 16
    assert count_parameters(mth) - count_parameters(_plain(cfg.model)) < 20_000
    with pytest.raises(ValueError, match='MTH width'):
        fusion_model_from_config(load_config(
            CONFIGS / 'multitaskvif_emma.yaml', ['model.decoder_kwargs={width: wide}']).model)


def _framework(*extra):
    return build_framework(load_config(None, ['framework=multitaskvif', 'model.decoder=mth',
                                              *extra]))


def test_selection_value_is_eq2_total():
    means = {'val_L_fusion': 3.0, 'val_L_seg': 2.0, 'train_L_fusion': 9.0, 'train_L_seg': 9.0}
    fw = _framework('weighting.name=fixed', 'weighting.options={omega_csc: 0.5}')
    assert fw.selection_name == 'L_total'
    assert fw.selection_value(means) == pytest.approx(3.0 + 0.5 * 2.0)
    assert fw.selection_value({'train_L_fusion': 1.0, 'train_L_seg': 4.0}) == pytest.approx(3.0)
    # weights that move during training: the paper's beta = (1, 1)
    assert _framework('weighting.name=gdwa').selection_value(means) == pytest.approx(5.0)
    assert _framework('weighting.name=fixed', 'weighting.options={omega_csc: 0.5}',
                      'framework_options={seg_loss: false}').selection_value(means) == 3.0
    fusion_only = _framework('framework_options={select_on: fusion}')
    assert fusion_only.selection_name == 'L_fusion' and fusion_only.selection_value(means) == 3.0
    # every other framework: unchanged
    assert Framework.selection_name == 'L_fusion'
    assert build_framework(load_config(None, [])).selection_value(means) == 3.0


def _hand_seg_loss(logits, label, ignore=255):
    """CE + Dice (Sec. 3.4) with ignored pixels left out, Dice's eps = 1 as documented."""
    ce = F.cross_entropy(logits, label, ignore_index=ignore)
    valid = (label != ignore)[:, None].float()
    p = logits.softmax(1) * valid
    y = F.one_hot(label.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2)
    y = y.float() * valid
    dice = 2 * (p * y).sum((2, 3)) / (p.sum((2, 3)) + y.sum((2, 3)) + 1.0)
    return ce + (1 - dice.mean(1)).mean()


def test_early_stopping_watches_validation_total(tmp_path):
    cfg = load_config(None, [
        'framework=multitaskvif', 'model.decoder=mth', 'model.backbone=realtime',
        'model.backbone_kwargs={width: 8, context_width: 8, blocks: 1, context_blocks: 1}',
        'model.decoder_kwargs={width: 8, heads: 2}', 'model.seg_classes=3',
        'weighting.name=fixed', 'weighting.options={omega_csc: 0.5}',
        'data.batch_size=2', 'data.crop=32', 'grid_samples=0', 'device=cpu', 'epochs=1',
        'early_stopping_patience=10', 'grad_analysis=false', f'output_dir={tmp_path}'])
    dist = init_distributed('cpu')
    try:
        trainer = Trainer(cfg, datasets=(LabelledScenes(4, size=32),
                                         LabelledScenes(2, size=32, seed=1)),
                          progress=False, dist=dist)
        result = trainer.run()
        batch = to_device(next(iter(trainer.loader(trainer.val_ds, False))), trainer.device)
    finally:
        dist.close()
    assert batch['visible'].shape[0] == 2  # the whole validation split in one batch
    net = trainer.fusion.eval()
    with torch.no_grad():
        out, logits = net.forward_tasks(batch['visible'], batch['thermal'])
        fusion_terms = fusion_loss_for(cfg)(out.fused, batch['thermal'], batch['visible'])
        l_fusion = float(fusion_terms['total'])
        l_seg = float(_hand_seg_loss(logits, batch['label']))
    entry = result.history[-1]
    assert entry['val_L_fusion'] == pytest.approx(l_fusion, rel=1e-5)
    assert entry['val_L_seg'] == pytest.approx(l_seg, rel=1e-5)
    assert trainer.best.value == pytest.approx(l_fusion + 0.5 * l_seg, rel=1e-5)
    assert entry['best_val_L_total'] == trainer.best.value
    assert entry['val_L_total'] == pytest.approx(trainer.best.value, rel=1e-6)
    assert 'best_val_L_fusion' not in entry
