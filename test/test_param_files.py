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
One home per runtime parameter (issue 18): the dataclass field, and nothing else to edit.

A parameter added in a test-only subclass of the config reaches the
pairer (built by the node and by ``process_bag``, and set live on a running
node), the params-file check and the launch arguments, with no other edit.
The committed ``config/fusion.yaml`` is the rendering of the dataclass.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from launch_stub import run_launch_file
import pytest
from ros2_ssvif import config as config_module
from ros2_ssvif.config import ConfigError, FusionConfig, parameter_specs
from ros2_ssvif.pairing import ApproximatePairer
from ros2_ssvif.param_files import launch_parameters, render_params_file, stale_keys
from ros2_ssvif.params import LIVE_PARTS, param, PARTS, settings
import yaml


REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = REPO / 'config' / 'fusion.yaml'
NEW_DESCRIPTION = 'Test only: a new live pairing parameter, seconds of stamp skew allowed.'


@dataclass
class WithNewPairingParameter(FusionConfig):
    """What a newcomer writes: one field (the pairer's use of it is the second edit)."""

    pair_max_skew: float = param(0.25, NEW_DESCRIPTION, range=(0.0, 1.0), part='pairing')


def test_the_committed_params_file_is_the_rendering_of_the_dataclass():
    assert stale_keys(PARAMS_FILE) == [], 'run: python scripts/write_params_file.py'
    assert PARAMS_FILE.read_text() == render_params_file()
    data = yaml.safe_load(PARAMS_FILE.read_text())
    assert list(data) == ['/**']
    for s in parameter_specs():  # each key under its field's description
        assert ' '.join(s.description.split()) in ' '.join(
            ln.strip().lstrip('#').strip() for ln in PARAMS_FILE.read_text().splitlines())


def test_the_launch_file_declares_every_parameter_with_its_description(monkeypatch):
    run = run_launch_file(monkeypatch)
    params = launch_parameters()
    assert {n for n, _, _ in params} == {s.name for s in parameter_specs()}
    for name, description, _ in params:
        default, text = run.arguments[name]
        assert default == '' and text.startswith(description), name
    node = run.node({'slop': '1', 'providers': '[cuda, cpu]', 'model_path': '123'})
    overrides = node['parameters'][1]
    assert overrides['slop'] == 1.0 and isinstance(overrides['slop'], float)
    assert overrides['providers'] == ['cuda', 'cpu'] and overrides['model_path'] == '123'
    assert 'queue_size' not in overrides  # empty: the params file decides
    assert node['executable'] == 'fusion_node'


def test_every_field_names_a_part_and_every_live_consumer_takes_its_fields():
    """A typo in a field name would silently set nothing: each live field names an attribute."""
    from ros2_ssvif.alignment import AlignmentSettings
    from ros2_ssvif.health import HealthMonitor
    from ros2_ssvif.thermal import ThermalNormalizer

    cfg = FusionConfig()
    assert {s.part for s in parameter_specs()} <= set(PARTS)
    pairer = ApproximatePairer()
    assert set(settings(cfg, 'pairing')) <= set(vars(pairer))
    assert set(settings(cfg, 'health')) <= set(vars(HealthMonitor({})))
    assert set(settings(cfg, 'alignment')) == set(vars(AlignmentSettings()))
    assert ThermalNormalizer.from_config(cfg) == ThermalNormalizer(video=True)
    assert AlignmentSettings.from_config(cfg) == AlignmentSettings()


def test_a_new_live_pairing_parameter_reaches_the_pairer_the_yaml_check_and_the_launch(
        monkeypatch, tmp_path, toy_model_path):
    cfg = WithNewPairingParameter(model_path=str(toy_model_path))
    # validation: the range of the field, one line naming it
    with pytest.raises(ConfigError, match='pair_max_skew must be between 0.0 and 1.0'):
        WithNewPairingParameter.from_dict({'pair_max_skew': 2.0})
    # the pairer, as the node and process_bag build it, and as the node's live apply sets it
    pairer = ApproximatePairer.from_config(cfg)
    assert pairer.pair_max_skew == 0.25 and pairer.slop == cfg.slop
    pairer.configure(WithNewPairingParameter(pair_max_skew=0.5))
    assert pairer.pair_max_skew == 0.5
    # process_bag builds its pairer from the config it is given
    from ros2_ssvif.process_bag import process_bag
    from test_bag_tools import write_bag

    seen = []
    real_add = ApproximatePairer.add

    def spy(self, stream, stamp, payload):
        seen.append(self.pair_max_skew)
        return real_add(self, stream, stamp, payload)

    monkeypatch.setattr(ApproximatePairer, 'add', spy)
    write_bag(tmp_path / 'in', 'sqlite3', n_rgb=6)
    process_bag(tmp_path / 'in', tmp_path / 'out', cfg, progress=False)
    assert seen and set(seen) == {0.25}
    monkeypatch.setattr(ApproximatePairer, 'add', real_add)
    # the params file: rendered with its description, and the committed one is now stale
    text = render_params_file(WithNewPairingParameter)
    assert f'    # {NEW_DESCRIPTION}\n    pair_max_skew: 0.25\n' in text
    assert stale_keys(PARAMS_FILE, WithNewPairingParameter) == ['pair_max_skew']
    written = tmp_path / 'fusion.yaml'
    written.write_text(text)
    assert stale_keys(written, WithNewPairingParameter) == []
    # the launch file: an argument with its description, converted to the field's type
    monkeypatch.setattr(config_module, 'FusionConfig', WithNewPairingParameter)
    run = run_launch_file(monkeypatch)
    assert run.arguments['pair_max_skew'][1].startswith(NEW_DESCRIPTION)
    assert run.node({'pair_max_skew': '1'})['parameters'][1]['pair_max_skew'] == 1.0


def test_a_new_live_pairing_parameter_is_a_node_parameter_set_live(toy_model_path):
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter
    from ros2_ssvif.fusion_node import FusionNode

    class Node(FusionNode):
        config_class = WithNewPairingParameter

    rclpy.init()
    try:
        node = Node(parameter_overrides=[Parameter('model_path', value=str(toy_model_path))])
        try:
            assert node.pairer.pair_max_skew == 0.25
            (desc,) = node.describe_parameters(['pair_max_skew'])
            assert desc.description == NEW_DESCRIPTION and not desc.read_only
            assert desc.floating_point_range[0].to_value == 1.0
            (ok,) = node.set_parameters([Parameter('pair_max_skew', value=0.4)])
            assert ok.successful and node.pairer.pair_max_skew == 0.4
            (bad,) = node.set_parameters([Parameter('pair_max_skew', value=5.0)])
            assert not bad.successful and node.pairer.pair_max_skew == 0.4
            assert set(node.live_consumers()) == set(LIVE_PARTS)
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
