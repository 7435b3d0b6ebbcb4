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
The shipped mask on real pairs: the model card's box scores, reproduced from the file in the tree.

The 64 MSRS validation pairs (``config/data/msrs_test_dev_val.txt``, never
trained on) scored by ``evaluate_segmentation`` against their real boxes. The
numbers are the model card's (models/README.md, "Segmentation on real
pairs"): a rebuilt model that scores differently must come with a new card.
"""
from __future__ import annotations

from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
VAL = REPO / 'config' / 'data' / 'msrs_test_dev_val.txt'
# subset -> group -> (recall of boxes >= 24 px, pixel precision), as in the model card
CARD = {
    'day': {'person': (0.77, 0.75), 'car': (0.79, 0.77)},
    'night': {'person': (0.85, 0.80), 'car': (0.13, 0.69)},
}


@pytest.fixture(scope='module')
def scores(shared_data, tmp_path_factory) -> dict:
    from evaluation.box_protocol import evaluate
    from ros2_ssvif.package_files import DEFAULT_MODEL

    boxes = shared_data / 'msrs_test_dev'
    if not boxes.is_dir():
        pytest.skip(f'{boxes} is missing')
    out = tmp_path_factory.mktemp('boxes')
    return evaluate(boxes, [('shipped', str(REPO / DEFAULT_MODEL))], out, pairs=VAL,
                    overlays=0, progress=False)['shipped']


@pytest.mark.parametrize('subset', sorted(CARD))
def test_the_shipped_mask_scores_what_its_model_card_says(scores, subset):
    for group, (recall_tall, precision) in CARD[subset].items():
        got = scores[subset][group]
        assert round(got['recall_tall'], 2) == recall_tall, (subset, group, got)
        assert round(got['precision'], 2) == precision, (subset, group, got)


def test_the_shipped_mask_finds_most_pedestrians_by_night(scores):
    """The point of fusing for the mask: fed the visible image alone, 1-6 % are found."""
    night = scores['night']['person']
    assert night['boxes_tall'] >= 60 and night['recall_tall'] >= 0.6, night
