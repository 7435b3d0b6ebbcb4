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
What a backbone registers: its factory and the image decoder that matches it.

A backbone and its decoder are registered together because the decoder's
widths (and whether it upsamples) follow the backbone's output, while the
trainer only knows a name. Each backbone module registers itself with
:func:`register_backbone` in :data:`training.registry.BACKBONES`, so a new
backbone is one new module with nothing else to edit.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn
from training.registry import BACKBONES


@dataclass(frozen=True)
class BackboneSpec:
    """``backbone(in_channels=..., **kw)``; ``decoder(feature_channels, out_channels)``."""

    name: str
    backbone: Callable[..., nn.Module]
    decoder: Callable[[int, int], nn.Module]


def register_backbone(name: str, backbone: Callable[..., nn.Module] | None = None,
                      decoder: Callable[[int, int], nn.Module] | None = None):
    """
    Add (or replace) a backbone under ``name`` with its decoder.

    Called with the backbone: returns its :class:`BackboneSpec`; without,
    a class decorator (``@register_backbone('x', decoder=...)``).
    """
    if decoder is None:
        raise TypeError(f'backbone {name!r} needs its decoder(feature_channels, out_channels)')

    def add(factory):
        BACKBONES.register(name, BackboneSpec(name, factory, decoder), replace=True)
        return factory

    if backbone is None:
        return add
    add(backbone)
    return BACKBONES.lookup(name)


__all__ = ['BackboneSpec', 'register_backbone']
