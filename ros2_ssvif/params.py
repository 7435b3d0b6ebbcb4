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
How a runtime parameter is declared once and reaches the object it sets.

Why this module: a parameter used to live in five files (the config
dataclass, the params file, the launch file's name list, the node's
positional construction and its hand-written live-apply list, the bag
tool), and a consumer took it under another name (``thermal_window_rate``
became ``rate``). Now a field of :class:`ros2_ssvif.config.FusionConfig`
says everything once, in :func:`param`: its default, description, range
or choices, and its **part**, the consumer it configures. The params file,
the launch arguments, the node's descriptors, the live apply and the
construction of every consumer are derived from the fields.

A part names one consumer and, through :data:`PARTS`, when a change
applies (``apply``: ``start`` read-only, ``live`` at once, ``model`` /
``registration`` / ``thermal`` rebuilt in the worker) and the prefix its
fields carry in the config. A consumer takes a field **by name**: the
field's name without that prefix (``thermal_low_percentile`` is
``ThermalNormalizer.low_percentile``, ``health_window`` is
``HealthMonitor.window``), or the ``key`` the field names where a
consumer's public name predates the config (``thermal_window_rate`` is
``ThermalNormalizer.rate``). Live consumers have ``configure(cfg)``
(:class:`Configurable`: sets each of its fields as an attribute), so a new
live field reaches its consumer with no other edit; rebuilt consumers have
``from_config(cfg)``, which passes their fields as keyword arguments.

This module imports nothing of the package: every runtime module may use it.
"""
from __future__ import annotations

from dataclasses import Field, field, fields
from typing import ClassVar


#: part -> (when a change applies, prefix of its fields in the config)
PARTS: dict[str, tuple[str, str]] = {
    'node': ('start', ''),  # subscriptions, QoS, timers (node_core): read-only
    'pairing': ('live', ''),  # pairing.ApproximatePairer
    'health': ('live', 'health_'),  # health.HealthMonitor
    'worker': ('live', ''),  # fusion_worker.PipelineWorker
    'pipeline': ('live', ''),  # pipeline.FramePipeline
    'outputs': ('live', ''),  # the sinks: node_outputs.RosSink, process_bag.BagSink
    'alignment': ('live', 'registration_'),  # alignment.AlignmentSettings (the monitor)
    'model': ('model', ''),  # model_runner.FusionSegmenter, rebuilt in the worker
    'registration': ('registration', ''),  # registration maps, rebuilt in the worker
    'thermal': ('thermal', 'thermal_'),  # thermal.ThermalNormalizer, rebuilt in the worker
}
APPLY = ('start', 'live', 'model', 'registration', 'thermal')
LIVE_PARTS = tuple(p for p, (apply, _) in PARTS.items() if apply == 'live')
RELOAD_PARTS = ('model', 'registration', 'thermal')


def param(default, description: str, *, part: str, range: tuple | None = None,  # noqa: A002
          choices: tuple | None = None, key: str | None = None) -> Field:
    """
    Declare one parameter: a dataclass field with its metadata.

    ``range`` is ROS's word (a closed interval); ``choices`` the allowed
    strings; ``part`` the consumer (a key of :data:`PARTS`); ``key`` the
    consumer's name for it when that is not the field's name without the
    part's prefix.
    """
    if part not in PARTS:
        raise ValueError(f'part {part!r} is not one of {", ".join(PARTS)}')
    meta = {'description': description, 'range': range, 'choices': choices, 'part': part,
            'apply': PARTS[part][0], 'key': key}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def consumer_name(f: Field) -> str:
    """Return the name under which the field's consumer takes it."""
    key = f.metadata.get('key')
    if key:
        return key
    prefix = PARTS[f.metadata['part']][1]
    return f.name[len(prefix):] if prefix and f.name.startswith(prefix) else f.name


def part_fields(cfg_or_cls, part: str) -> list[Field]:
    """Return the fields of one part, in declaration order."""
    return [f for f in fields(cfg_or_cls) if f.metadata.get('part') == part]


def settings(cfg, part: str) -> dict:
    """Return ``{consumer name: value}`` of the fields of ``part`` in ``cfg``."""
    return {consumer_name(f): getattr(cfg, f.name) for f in part_fields(cfg, part)}


class Configurable:
    """
    A live consumer: ``configure(cfg)`` sets every field of its part as an attribute.

    The attribute is the field's consumer name, so a new field of the part
    reaches the object with no edit here or in the node (the node calls
    ``configure`` on every live consumer after a parameter change).
    """

    config_part: ClassVar[str] = ''

    def configure(self, cfg):
        for name, value in settings(cfg, self.config_part).items():
            setattr(self, name, value)
        return self


__all__ = ['APPLY', 'Configurable', 'LIVE_PARTS', 'PARTS', 'RELOAD_PARTS', 'consumer_name',
           'param', 'part_fields', 'settings']
