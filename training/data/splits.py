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
The train / validation split of the real MSRS pairs with boxes (config/data/).

MSRS frames are samples of driving videos, a few frames apart: a random split
would put near copies of one scene on both sides and score the segmenter on
what it trained on. Blocks of consecutive frames go to one side whole.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from ros2_ssvif.image_files import read_name_list


__all__ = ['BLOCK', 'DEV_BLOCKS', 'VAL_BLOCKS', 'msrs_block_split', 'read_name_list', 'split_file',
           'write_split']

BLOCK = 8
# 0-based blocks of sorted day / night names that are validation (config/data/README.md)
VAL_BLOCKS = {'D': (1, 6, 7, 10), 'N': (0, 3, 6, 9)}
# blocks of the *training* names held out for design choices (the dev part, never the val)
DEV_BLOCKS = {'D': (3,), 'N': (4,)}
SPLIT_DIR = Path(__file__).resolve().parents[2] / 'config' / 'data'


def msrs_block_split(names: Iterable[str],
                     held_out: dict = VAL_BLOCKS) -> tuple[list[str], list[str]]:
    """
    Return (kept, held out) names: blocks of BLOCK sorted names per D/N suffix, ``held_out`` out.

    With the default, (train, val). ``msrs_block_split(train, DEV_BLOCKS)``
    splits the training names into (fit, dev): the dev part is where design
    choices are compared, so the validation pairs are scored once, at the end.
    """
    train, val = [], []
    for tag, blocks in held_out.items():
        group = sorted(n for n in names if n.endswith(tag))
        for i in range(0, len(group), BLOCK):
            (val if i // BLOCK in blocks else train).extend(group[i:i + BLOCK])
    return sorted(train), sorted(val)


def split_file(part: str) -> Path:
    """config/data/msrs_test_dev_<part>.txt for part 'train' or 'val'."""
    if part not in ('train', 'val'):
        raise ValueError(f"split part must be 'train' or 'val', got {part!r}")
    return SPLIT_DIR / f'msrs_test_dev_{part}.txt'


def write_split(names: Sequence[str], out_dir: str | Path = SPLIT_DIR) -> None:
    train, val = msrs_block_split(names)
    for part, items in (('train', train), ('val', val)):
        Path(out_dir, f'msrs_test_dev_{part}.txt').write_text('\n'.join(items) + '\n')
