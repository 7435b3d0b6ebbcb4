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
The fusion backbones; each module registers itself (``spec.register_backbone``).

A backbone and its decoder are registered together in
:data:`training.registry.BACKBONES` (the one registry of training's
parts); ``build_fusion_model`` in ``training.models`` is the public entry
point. ``dense_residual`` lives in ``training.models.dense_residual`` and
registers itself there.
"""
from __future__ import annotations

from training.registry import BACKBONES

from .emma import EMMABackbone
from .realtime import RealtimeBackbone
from .seafusion import SeAFusionBackbone
from .segmif import SegMiFBackbone
from .spec import BackboneSpec, register_backbone
from .swinfusion import SwinFusionBackbone


__all__ = [
    'BACKBONES',
    'BackboneSpec',
    'EMMABackbone',
    'RealtimeBackbone',
    'SeAFusionBackbone',
    'SegMiFBackbone',
    'SwinFusionBackbone',
    'available_backbones',
    'get_backbone',
    'register_backbone',
]


def get_backbone(name: str) -> BackboneSpec:
    """Look up ``name``; an unknown name raises KeyError listing the known ones."""
    return BACKBONES.lookup(name)


def available_backbones() -> list[str]:
    return BACKBONES.names()
