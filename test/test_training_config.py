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

import pytest
from training.config import ConfigError, load_config


def test_exponent_numbers_from_yaml_1_1_are_read_as_numbers(tmp_path):
    # PyYAML reads "2e-3" as a string; a config must still mean 0.002
    cfg = load_config('config/training/demo.yaml', ['optim.lr=2e-3', 'epochs=3'])
    assert (
        cfg.optim.lr == pytest.approx(0.002)
        and isinstance(cfg.optim.lr, float)
        and cfg.epochs == 3
    )
    f = tmp_path / 'c.yaml'
    f.write_text(
        'inherit: '
        + str((__import__('pathlib').Path('config/training/demo.yaml')).resolve())
        + '\noptim:\n  lr: 5e-4\n'
    )
    assert load_config(f).optim.lr == pytest.approx(5e-4)


def test_a_word_where_a_number_belongs_is_a_clear_error():
    with pytest.raises(ConfigError, match='optim.lr must be a number'):
        load_config('config/training/demo.yaml', ['optim.lr=fast'])
