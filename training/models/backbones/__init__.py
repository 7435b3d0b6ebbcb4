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
Backbone registry: name -> (backbone factory, matching image-decoder factory).

A backbone and its decoder are registered together because the decoder's
widths (and whether it upsamples) follow the backbone's output, while the
trainer only knows a name. ``build_fusion_model`` in ``training.models``
is the public entry point; this module just holds the table.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .emma import EMMABackbone
from .realtime import RealtimeBackbone
from .seafusion import SeAFusionBackbone
from .segmif import SegMiFBackbone
from .swinfusion import SwinFusionBackbone
from ..decoder import ConvDecoder
from ..dense_residual import DenseResidualBackbone


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


@dataclass(frozen=True)
class BackboneSpec:
    """``backbone(in_channels=..., **kw)``; ``decoder(feature_channels, out_channels)``."""

    name: str
    backbone: Callable[..., nn.Module]
    decoder: Callable[[int, int], nn.Module]


BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(name: str, backbone: Callable[..., nn.Module],
                      decoder: Callable[[int, int], nn.Module]) -> BackboneSpec:
    """Add (or replace) a backbone under ``name``; returns its spec."""
    spec = BackboneSpec(name, backbone, decoder)
    BACKBONES[name] = spec
    return spec


def get_backbone(name: str) -> BackboneSpec:
    """Look up ``name``; an unknown name raises KeyError listing the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(
            f'unknown backbone {name!r}; known: {", ".join(available_backbones())}'
        ) from None


def available_backbones() -> list[str]:
    return sorted(BACKBONES)


# SwinFusion's reconstruction tail: two 3x3 convs with LeakyReLU.
register_backbone('swinfusion', SwinFusionBackbone,
                  lambda c, out: ConvDecoder(c, (c // 2,), out))
# SeAFusion's decoder: ConvBN-LeakyReLU 96 -> 64 -> 32 -> 16, then to the image.
register_backbone('seafusion', SeAFusionBackbone,
                  lambda c, out: ConvDecoder(c, (64, 32, 16), out, batch_norm=True))
# Half-resolution features: one conv, then pixel-shuffle to full resolution.
register_backbone('realtime', RealtimeBackbone,
                  lambda c, out: ConvDecoder(c, (16,), out, upscale=2))
# Bi-level dynamic learning's two dilated residual dense blocks (seed paper 003); CAF: blocks=3.
register_backbone('dense_residual', DenseResidualBackbone,
                  lambda c, out: ConvDecoder(c, (c // 2,), out))
# EMMA's U-Fuser ends in one 3x3 conv to the image.
register_backbone('emma', EMMABackbone, lambda c, out: ConvDecoder(c, (), out))
# SegMiF: 3x3 conv 2C -> C, then 3x3 conv to the image.
register_backbone('segmif', SegMiFBackbone, lambda c, out: ConvDecoder(c, (max(c // 2, 1),), out))
