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

"""One validation for the node's parameters (config.py), used at start and at run time."""
import math
from pathlib import Path

import pytest
from ros2_ssvif import config as config_module
from ros2_ssvif import package_files
from ros2_ssvif.config import (
    ConfigError,
    FusionConfig,
    parameter_specs,
    READ_ONLY_KEYS,
    read_params_file,
    RELOAD_KEYS,
)
import yaml


REPO = Path(__file__).resolve().parents[1]


def test_an_int_given_for_a_float_is_a_float():
    """Defect: `slop:=1` crashed the node (an int for a float parameter)."""
    cfg = FusionConfig.from_dict({'slop': 1, 'thermal_fixed_max': 30000, 'overlay_alpha': 1})
    assert cfg.slop == 1.0 and isinstance(cfg.slop, float)
    assert isinstance(cfg.thermal_fixed_max, float) and cfg.overlay_alpha == 1.0


@pytest.mark.parametrize('key,value,text', [
    ('slop', -1.0, 'slop'),
    ('slop', math.nan, 'slop'),
    ('slop', math.inf, 'slop'),
    ('slop', 'abc', 'slop must be a number'),
    ('slop', True, 'slop must be a number'),
    ('queue_size', 0, 'queue_size'),
    ('queue_size', 2.5, 'queue_size must be an integer'),
    ('thermal_normalization', 'bogus', 'thermal_normalization'),
    ('thermal_high_percentile', 150.0, 'thermal_high_percentile'),
    ('thermal_low_percentile', 99.5, 'percentiles'),  # low >= high: ThermalNormalizer's own rule
    ('thermal_window_rate', 0.0, 'rate'),
    ('camera_qos', 'fast', 'camera_qos'),
    ('rgb_transport', 'theora', 'rgb_transport'),
    ('providers', ['gpu'], 'providers'),
    ('providers', 'cpu', 'providers must be a list'),
    ('max_drop_ratio', 1.5, 'max_drop_ratio'),
    ('time_jump_threshold', 0.0, 'time_jump_threshold'),
])
def test_bad_values_are_one_line_naming_the_parameter(key, value, text):
    with pytest.raises(ConfigError, match=text) as info:
        FusionConfig.from_dict({key: value})
    assert '\n' not in str(info.value)


def test_unknown_keys_are_refused_and_ros_own_keys_ignored():
    with pytest.raises(ConfigError, match='unknown fusion parameters: slopp'):
        FusionConfig.from_dict({'slopp': 0.1})
    FusionConfig.from_dict(
        {'use_sim_time': True, 'qos_overrides./rgb/image_raw.subscription.depth': 3}
    )


def test_every_parameter_has_a_description_and_the_reload_keys_derive_from_the_fields():
    specs = {s.name: s for s in parameter_specs()}
    assert set(specs) == set(FusionConfig().to_dict())
    for s in specs.values():
        assert len(s.description) > 20, s.name
        assert s.apply in ('start', 'live', 'model', 'registration', 'thermal'), s.name
    assert RELOAD_KEYS == {
        n for n, s in specs.items() if s.apply in ('model', 'registration', 'thermal')
    }
    assert {'model_path', 'registration_file', 'thermal_window_rate', 'providers'} <= RELOAD_KEYS
    # what cannot change on a running node is read-only (defect: camera_qos "succeeded" and did
    # nothing)
    assert {
        'camera_qos',
        'qos_depth',
        'diagnostics_period',
        'rgb_transport',
        'thermal_transport',
    } <= READ_ONLY_KEYS
    assert specs['slop'].range == (0.0, 10.0) and specs['queue_size'].range[0] == 1
    assert 'auto' in specs['thermal_normalization'].choices


def test_shipped_params_file_applies_under_any_node_name_and_namespace():
    """Defect: a file keyed `fusion_node:` is ignored when the node runs in a namespace."""
    data = yaml.safe_load((REPO / 'config' / 'fusion.yaml').read_text())
    assert list(data) == ['/**']
    params = read_params_file(REPO / 'config' / 'fusion.yaml')
    FusionConfig.from_dict(params)


def test_model_path_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert FusionConfig().resolved_model_path().parts[-2:] == ('models', 'ssvif_default.onnx')
    # relative: the package share directory first (the source tree here), else the current
    # directory
    assert (
        FusionConfig(model_path='config/fusion.yaml').resolved_model_path()
        == REPO / 'config' / 'fusion.yaml'
    )
    assert FusionConfig(model_path='mine.onnx').resolved_model_path() == tmp_path / 'mine.onnx'
    abs_path = tmp_path / 'x.onnx'
    assert FusionConfig(model_path=str(abs_path)).resolved_model_path() == abs_path


def test_missing_files_are_named_in_the_check(tmp_path, monkeypatch):
    monkeypatch.setattr(package_files, 'DEFAULT_MODEL', Path('models') / 'not_shipped_yet.onnx')
    with pytest.raises(
        ConfigError, match=r'model_path: default model not found: .*not_shipped_yet\.onnx'
    ):
        FusionConfig().check_files()
    with pytest.raises(ConfigError, match=r'model_path: model file not found: .*typo\.onnx'):
        FusionConfig(model_path=str(tmp_path / 'typo.onnx')).check_files()


def test_registration_file_is_checked_with_the_format_owner(tmp_path, toy_model_path):
    bad = tmp_path / 'reg.yaml'
    bad.write_text('format: ros2_ssvif/registration\nversion: [1]\n')
    with pytest.raises(
        ConfigError, match=r'registration_file: unsupported registration version \[1\]'
    ):
        FusionConfig(model_path=str(toy_model_path), registration_file=str(bad)).check_files()
    FusionConfig(model_path=str(toy_model_path)).check_files()


def test_config_module_never_loads_a_model_to_validate():
    """The set callback validates with this module: it must stay cheap (no ORT session)."""
    import inspect

    src = inspect.getsource(config_module.FusionConfig.check_files)
    assert 'FusionSegmenter' not in src and 'InferenceSession' not in src
