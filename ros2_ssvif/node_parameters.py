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
The node's ROS parameters, declared from :mod:`ros2_ssvif.config` (rclpy shell).

Descriptors carry each field's description, range and choices, and
``read_only`` for what only applies at start-up. Floating-point parameters
are declared with dynamic typing so that ``slop:=1`` (an integer, which is
what a launch argument or ``-p`` gives) is accepted and converted by the
config's own validation instead of crashing the node at start-up; every
other rule (types, ranges, NaN, choices, cross-field) is the config's, so
start-up and ``ros2 param set`` accept and refuse the same values.
"""
from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.parameter import Parameter
from ros2_ssvif.config import ConfigError, FusionConfig, parameter_specs, ParamSpec


_TYPES = {'bool': ParameterType.PARAMETER_BOOL, 'int': ParameterType.PARAMETER_INTEGER,
          'float': ParameterType.PARAMETER_DOUBLE, 'str': ParameterType.PARAMETER_STRING,
          'list': ParameterType.PARAMETER_STRING_ARRAY}


def descriptor_for(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(name=spec.name, description=spec.description, read_only=spec.read_only)
    if spec.kind == 'float':
        d.dynamic_typing = True  # an int is accepted and converted by the config
    else:
        d.type = _TYPES[spec.kind]
    if spec.range is not None and spec.kind == 'float':
        d.floating_point_range = [FloatingPointRange(from_value=float(spec.range[0]),
                                                     to_value=float(spec.range[1]), step=0.0)]
    elif spec.range is not None and spec.kind == 'int':
        d.integer_range = [
            IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=1)
        ]
    notes = []
    if spec.choices:
        notes.append('one of: ' + ', '.join(spec.choices))
    notes.append({'start': 'read-only: set at start-up', 'live': 'applies at once',
                  'model': 'reloads the model in the background',
                  'registration': 'reloads the registration in the background',
                  'thermal': 'rebuilds the thermal normaliser'}[spec.apply])
    d.additional_constraints = '; '.join(notes)
    return d


def config_class(node) -> type:
    """Return the dataclass ``node`` declares its parameters from (its ``config_class``)."""
    return getattr(node, 'config_class', FusionConfig)


def declare_fusion_parameters(node) -> FusionConfig:
    """Declare every config field; returns the validated start-up config (ConfigError if not)."""
    for spec in parameter_specs(config_class(node)):
        node.declare_parameter(spec.name, spec.default, descriptor_for(spec))
    unknown = undeclared_overrides(node)
    if unknown:  # warn, not refuse: a params file keyed /** may carry other nodes' parameters
        node.get_logger().warning(
            f"ignoring parameter(s) this node does not have: {', '.join(unknown)} "
            '(a typo? the parameters are listed in config/fusion.yaml)')
    return read_config(node)


def undeclared_overrides(node) -> list[str]:
    """Names given to the node (params file, ``-p``) that it never declared: usually typos."""
    overrides = getattr(node, '_parameter_overrides', None) or {}  # rclpy keeps them there
    return sorted(n for n in overrides
                  if not node.has_parameter(n) and not n.startswith('qos_overrides.'))


def read_config(node, changed: list[Parameter] | None = None) -> FusionConfig:
    """Return the node's current parameters with ``changed`` applied, validated."""
    cls = config_class(node)
    values = {s.name: node.get_parameter(s.name).value for s in parameter_specs(cls)}
    for p in changed or []:
        if p.name in values:
            values[p.name] = p.value
    return cls.from_dict(values)


__all__ = ['ConfigError', 'declare_fusion_parameters', 'descriptor_for', 'read_config',
           'undeclared_overrides']
