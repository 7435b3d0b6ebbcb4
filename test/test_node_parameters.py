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
fusion_node's parameters over real DDS.

Refused bad values, descriptors, start-up errors, a registration file that never ends the
node, the shipped params file in a namespace.
"""
import math
import os
import subprocess
import sys

import pytest


rclpy = pytest.importorskip('rclpy')
from rclpy.parameter import Parameter  # noqa: E402
from ros2_ssvif.fusion_node import FusionNode  # noqa: E402
from ros2_ssvif.node_parameters import undeclared_overrides  # noqa: E402
from ros_helpers import level, small_registration, spin_until  # noqa: E402
from ros_helpers import node_params as params  # noqa: E402
from ros_helpers import NodeHarness as Harness  # noqa: E402
import yaml  # noqa: E402


pytestmark = pytest.mark.ros
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_runtime_sets_of_bad_values_are_refused_and_the_node_keeps_publishing(
    ros, toy_model_path, tmp_path
):
    """
    Defects: bad values set at run time were accepted or took the node down.

    Slop -1 / nan accepted at run time; a model_path typo, thermal_normalization=bogus or a
    percentile of 150 returned successful=True and took a working node to ERROR; camera_qos
    "succeeded" and did nothing; `version: [1]` in a registration file set at run time killed
    it.
    """
    bad_reg = tmp_path / 'bad_reg.yaml'
    bad_reg.write_text('format: ros2_ssvif/registration\nversion: [1]\n')
    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'not an onnx file' * 10)
    h = Harness(params(toy_model_path), ns='/prm')
    try:
        h.wait_ready()
        h.send_pairs(0, 3, 20.0)
        assert spin_until(h.ex, lambda: len(h.mask) >= 2)
        refused = {
            'slop': -1.0, 'queue_size': 0, 'thermal_normalization': 'bogus',
            'thermal_high_percentile': 150.0, 'model_path': str(tmp_path / 'typo.onnx'),
            'camera_qos': 'reliable', 'registration_file': str(bad_reg),
        }
        reasons = {}
        for key, value in refused.items():
            (r,) = h.set(**{key: value})
            assert not r.successful, key
            reasons[key] = r.reason
        (r,) = h.set(slop=math.nan)
        assert not r.successful
        assert 'read-only' in reasons['camera_qos']
        assert (
            'model file not found' in reasons['model_path']
            and 'typo.onnx' in reasons['model_path']
        )
        assert 'unsupported registration version [1]' in reasons['registration_file']
        assert 'thermal_normalization must be one of' in reasons['thermal_normalization']
        cfg = h.node.cfg
        assert (cfg.slop, cfg.thermal_normalization, cfg.camera_qos) == (
            0.05,
            'fixed',
            'sensor_data',
        )
        (r,) = h.set(slop=1)  # an int for a float: accepted (defect: crashed at start-up)
        assert r.successful and h.node.cfg.slop == 1.0 and h.node.pairer.slop == 1.0
        # an existing but corrupt model passes the cheap check, fails to load in the worker:
        # the parameter is put back and the old model keeps running
        (r,) = h.set(model_path=str(corrupt))
        assert r.successful
        assert spin_until(
            h.ex, lambda: h.node.get_parameter('model_path').value == str(toy_model_path)
        )
        assert h.node.pipeline.model.path == toy_model_path
        before = len(h.mask)
        h.send_pairs(10, 4, 30.0)
        assert spin_until(h.ex, lambda: len(h.mask) >= before + 3)
        assert (
            level(h.status('fusion')) in (0, 3)
            or 'kept the previous' in h.status('fusion').message
        )
    finally:
        h.close()


def test_parameters_have_descriptors_with_ranges_and_read_only_flags(ros, toy_model_path):
    h = Harness(params(toy_model_path), ns='/desc')
    try:
        assert spin_until(h.ex, h.params.services_are_ready)
        res = h.call(
            h.params.describe_parameters(['slop', 'queue_size', 'camera_qos', 'model_path'])
        )
        d = {x.name: x for x in res.descriptors}
        assert (
            d['slop'].floating_point_range[0].from_value == 0.0
            and d['slop'].floating_point_range[0].to_value == 10.0
        )
        assert d['queue_size'].integer_range[0].from_value == 1
        assert d['camera_qos'].read_only and not d['slop'].read_only
        assert 'sensor_data' in d['camera_qos'].additional_constraints
        assert 'default model' in d['model_path'].description
    finally:
        h.close()


def test_a_bad_registration_file_never_ends_the_node(ros, toy_model_path, tmp_path):
    """
    Defects: a bad registration file killed the node or gave black frames.

    `version: [1]` killed the node; `visible: abc` gave an AttributeError and a second
    traceback from destroy_node; a crop outside the image gave black frames with status OK.
    """
    reg_file, reg = small_registration(tmp_path)
    d = yaml.safe_load(reg_file.read_text())
    files = {}
    for name, edit in (
        ('version', lambda x: x.update(version=[1])),
        ('visible', lambda x: x.update(visible='abc')),
        ('crop', lambda x: x['crop'].update(x=500.0)),
    ):
        bad = yaml.safe_load(yaml.safe_dump(d))
        edit(bad)
        files[name] = tmp_path / f'{name}.yaml'
        files[name].write_text(yaml.safe_dump(bad))
    h = Harness(params(toy_model_path, registration_file=str(files['version'])), ns='/badreg')
    try:
        assert spin_until(
            h.ex, lambda: h.status('fusion') is not None and level(h.status('fusion')) == 2
        )
        assert 'unsupported registration version [1]' in h.status('fusion').message
        for name in ('visible', 'crop'):
            (r,) = h.set(registration_file=str(files[name]))
            assert not r.successful and name in r.reason
        (r,) = h.set(registration_file=str(reg_file))
        assert r.successful
        h.wait_ready()
        h.send_pairs(0, 3, 5.0)
        assert spin_until(h.ex, lambda: len(h.fused) >= 1)
        assert (h.fused[0].width, h.fused[0].height) == (96, 80)
    finally:
        h.close()


def test_start_with_an_int_for_a_float_and_a_namespaced_params_file(toy_model_path, tmp_path):
    """
    Defects: `slop:=1` crashed the node at start; a namespaced params file was ignored.

    `slop:=1` crashed it with two tracebacks; a params file keyed `fusion_node:` was
    ignored in a namespace (the shipped file is keyed /** now).
    """
    shipped = yaml.safe_load(open(os.path.join(REPO, 'config', 'fusion.yaml')))
    shipped['/**']['ros__parameters'].update(
        slop=0.07, queue_size=7, model_path=str(toy_model_path)
    )
    pfile = tmp_path / 'fusion.yaml'
    pfile.write_text(yaml.safe_dump(shipped))
    rclpy.init(args=['--ros-args', '--params-file', str(pfile)])
    try:
        node = FusionNode(namespace='/vehicle/front')
        assert node.get_parameter('slop').value == 0.07 and node.cfg.queue_size == 7
        node.destroy_node()
        node = FusionNode(namespace='/x', parameter_overrides=[Parameter('slop', value=1)])
        assert (
            node.cfg.slop == 1.0 and isinstance(node.cfg.slop, float) and node.pairer.slop == 1.0
        )
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


@pytest.mark.parametrize('arg,text', [('queue_size:=abc', 'queue_size'), ('slop:=-1.0', 'slop'),
                                      ('thermal_normalization:=bogus', 'thermal_normalization')])
def test_bad_parameters_at_start_are_one_line_and_exit_2(arg, text):
    r = subprocess.run([sys.executable, '-m', 'ros2_ssvif.fusion_node', '--ros-args', '-p', arg],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith('fusion_node: ') and text in lines[0], r.stderr
    assert 'Traceback' not in r.stderr + r.stdout


@pytest.mark.parametrize('args,text', [
    (['--params-file', 'config/no_such_file.yaml'], 'params file'),
    (['-p', 'model_path:='], 'model_path')])
def test_rcl_argument_errors_at_start_are_our_line_and_exit_2(args, text):
    """Defect: an unreadable --params-file or an empty -p value was a 19-line traceback, exit 1."""
    r = subprocess.run([sys.executable, '-m', 'ros2_ssvif.fusion_node', '--ros-args', *args],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 2, r.stderr
    ours = [ln for ln in r.stderr.splitlines() if ln.startswith('fusion_node: ')]
    assert len(ours) == 1 and text in ours[0] and '/project/src' not in ours[0], r.stderr
    assert 'Traceback' not in r.stderr + r.stdout


def test_a_typo_in_the_params_file_is_named_at_start():
    """Defect: `slopp: 0.2` in a params file was silently ignored (process_bag refuses it)."""
    rclpy.init(args=['--ros-args', '-p', 'slopp:=0.2', '-p', 'slop:=0.06'])
    try:
        node = FusionNode()
        assert undeclared_overrides(node) == ['slopp'] and node.cfg.slop == 0.06
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
