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

"""The MSRS train / validation split: regenerated from its rule, disjoint, and never trained on."""
from __future__ import annotations

from pathlib import Path

from ros2_ssvif.image_files import read_name_list
from training.data.splits import DEV_BLOCKS, msrs_block_split, split_file


REPO = Path(__file__).resolve().parents[1]


def test_committed_lists_are_the_rule_applied_to_the_pairs(shared_data):
    names = read_name_list(shared_data / 'msrs_test_dev' / 'pairs.txt')
    train, val = msrs_block_split(names)
    assert train == read_name_list(split_file('train'))
    assert val == read_name_list(split_file('val'))
    assert len(val) == 64 and sum(n.endswith('D') for n in val) == 32
    assert len(train) + len(val) == len(names) == 181


def test_split_keeps_blocks_whole_and_disjoint():
    names = [f'{i:05d}{t}' for t in 'DN' for i in range(40)]
    train, val = msrs_block_split(names)
    assert not set(train) & set(val) and len(train) + len(val) == 80
    # day blocks 1 (names 8..15) go to validation whole; block 0 stays in training
    assert {f'{i:05d}D' for i in range(8, 16)} <= set(val)
    assert {f'{i:05d}D' for i in range(8)} <= set(train)
    fit, dev = msrs_block_split(train, DEV_BLOCKS)
    assert not set(dev) & set(val) and set(fit) | set(dev) == set(train)


def test_the_pictures_pairs_and_neighbours_are_validation_only():
    val = set(read_name_list(split_file('val')))
    # SeAFusion's test-12 MSRS frames (the README figure) or their nearest neighbours
    assert {'00537D', '00551D', '00559D', '00634D', '00858N', '00878N', '00886N', '01024N'} <= val


def test_no_training_config_names_the_validation_list():
    for cfg in (REPO / 'config' / 'training').rglob('*.yaml'):
        assert 'msrs_test_dev_val' not in cfg.read_text(), cfg
    build = (REPO / 'scripts' / 'build_default_model.py').read_text()
    assert "split_file('train')" in build
    # the real-data framework comparison trains on the training list and never opens the other
    compare = (REPO / 'scripts' / 'compare_frameworks_real.py').read_text()
    assert "split_file('train')" in compare and 'bdm.msrs_split(' in compare
    assert "split_file('val')" not in compare and 'msrs_test_dev_val' not in compare
