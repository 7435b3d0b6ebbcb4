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
``config/fusion.yaml`` and the launch file's arguments, derived from the config dataclass.

Why: the params file repeated every parameter's default and its prose, and
the launch file kept its own list of names; both went out of date by hand.
Here both come from the fields of :class:`ros2_ssvif.config.FusionConfig`
(or a subclass): :func:`render_params_file` writes the params file (each
key under its field's description), :func:`stale_keys` is the check that
the committed file still is that output, and :func:`launch_parameters` is
what ``launch/fusion.launch.py`` declares as arguments (with the same
descriptions). ``python scripts/write_params_file.py`` rewrites the file
after a field changed; ``test/test_param_files.py`` fails until it is.
"""
from __future__ import annotations

import json
from pathlib import Path
import textwrap

from ros2_ssvif.config import parameter_specs, read_params_file
import yaml


WIDTH = 99  # the code base's line length
HEADER = """\
# Parameters of ros2_ssvif's fusion_node (ROS 2 params-file format).
# Generated from ros2_ssvif/config.py (FusionConfig) by scripts/write_params_file.py:
# edit the dataclass, then run the script (test/test_param_files.py checks it).
# Keyed /** so the file applies whatever the node's name and namespace
# (a file keyed `fusion_node:` is ignored once the node runs in a namespace).
# The node, `ros2 launch ros2_ssvif fusion.launch.py` and `process_bag` all
# read this file; every key is a ROS parameter of the node with a
# description and range (`ros2 param describe /fusion_node slop`).
# Read-only (set at start-up only): {read_only}.
# The others can be changed on a running node (`ros2 param set`); a bad
# value is refused with the reason, and a new model or registration file is
# loaded in the background and swapped in only if it loads (the previous
# one keeps running until then).
"""


def _config_class(config_class):
    if config_class is not None:
        return config_class
    from ros2_ssvif import config  # looked up when called: the launch file's class is this one

    return config.FusionConfig


def yaml_value(value) -> str:
    """One default as YAML text that reads back as the same value."""
    if isinstance(value, bool):
        text = 'true' if value else 'false'
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str) and value and yaml.safe_load(value) == value:
        text = value
    else:
        text = json.dumps(value)
    if yaml.safe_load(text) != value:
        raise ValueError(f'cannot write {value!r} as YAML that reads back the same')
    return text


def render_params_file(config_class=None) -> str:
    """Return the params file: every field's description as a comment, then its default."""
    specs = parameter_specs(_config_class(config_class))
    read_only = ', '.join(s.name for s in specs if s.read_only)
    wrapped = textwrap.fill(f'Read-only (set at start-up only): {read_only}.', WIDTH - 2,
                            break_on_hyphens=False)
    header = HEADER.replace('# Read-only (set at start-up only): {read_only}.\n',
                            textwrap.indent(wrapped, '# ') + '\n')
    lines = [header.rstrip('\n'), '/**:', '  ros__parameters:']
    for s in specs:
        lines += textwrap.wrap(s.description, WIDTH, initial_indent='    # ',
                               subsequent_indent='    # ', break_on_hyphens=False)
        lines.append(f'    {s.name}: {yaml_value(s.default)}')
    return '\n'.join(lines) + '\n'


def stale_keys(path: str | Path, config_class=None) -> list[str]:
    """
    Return what makes the params file at ``path`` differ from its rendering.

    Names of keys missing, unknown or with another default; ``['(comments)']``
    when only the text differs. Empty: the file is up to date.
    """
    cls = _config_class(config_class)
    have = read_params_file(path)
    want = {s.name: s.default for s in parameter_specs(cls)}
    bad = sorted(k for k in set(have) | set(want) if have.get(k, ...) != want.get(k, ...))
    if not bad and Path(path).read_text() != render_params_file(cls):
        bad = ['(comments)']
    return bad


def launch_parameters(config_class=None) -> list[tuple[str, str, str]]:
    """Return ``(name, description, kind)`` of every parameter: the launch file's arguments."""
    return [(s.name, s.description, s.kind) for s in parameter_specs(_config_class(config_class))]


__all__ = ['launch_parameters', 'render_params_file', 'stale_keys', 'yaml_value']
