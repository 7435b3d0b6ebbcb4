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
The demo reads the node's /diagnostics by status name.

Defect: the demo took the last status as the fusion one; once the node also
reported ``registration`` after it, the demo read zero pairs published and
exited 1 from a clean clone.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

msg = pytest.importorskip('diagnostic_msgs.msg')


REPO = Path(__file__).resolve().parents[1]


def _demo():
    spec = importlib.util.spec_from_file_location('run_demo', REPO / 'scripts' / 'run_demo.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _status(name, level, message, **values):
    st = msg.DiagnosticStatus(name=name, message=message)
    st.level = bytes([level])
    st.values = [msg.KeyValue(key=k, value=str(v)) for k, v in values.items()]
    return st


def test_the_fusion_status_is_found_by_name_not_position():
    demo = _demo()
    arr = msg.DiagnosticArray()
    arr.status = [  # the order node_core publishes: inputs, fusion, then registration
        _status('fusion_node: visible input', 0, '10.0 Hz'),
        _status('fusion_node: fusion', 0, '9.0 pairs/s', **{'count.published': 71}),
        _status('fusion_node: registration', 1, 'thermal is off by 2.4 px'),
    ]
    fusion = demo.named_status(arr, 'fusion')
    assert {kv.key: kv.value for kv in fusion.values} == {'count.published': '71'}
    assert demo.describe_status(arr) == 'OK: 9.0 pairs/s'
    assert demo.describe_status(arr, 'registration') == 'WARN: thermal is off by 2.4 px'
    with pytest.raises(KeyError, match='calibration'):
        demo.named_status(arr, 'calibration')
