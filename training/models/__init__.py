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
Fusion networks for SSVIF training, the segmentation head and complexity counters.

F = D(B(visible, thermal)), the feature-level segmentation head H and complexity
counters.

The SegFormer segmentation model lives in ``training.models.segformer`` and
is not imported here, so that building a fusion model does not load
transformers.
"""
from __future__ import annotations

from .backbones import available_backbones, get_backbone, register_backbone
from .complexity import count_macs, count_parameters
from .decoder import ConvDecoder
from .fusion_model import decoder_channels, FusionModel, FusionOutput, OUTPUTS
from .seg_head import SegHead


__all__ = [
    'ConvDecoder',
    'FusionModel',
    'FusionOutput',
    'SegHead',
    'available_backbones',
    'build_fusion_model',
    'build_multitask_model',
    'fusion_model_from_config',
    'OUTPUTS',
    'count_macs',
    'count_parameters',
    'get_backbone',
    'register_backbone',
]


def build_fusion_model(
    name: str, in_channels: int = 3, output: str = 'direct', refine_width: int = 0, **kw
) -> FusionModel:
    """
    Fusion model for backbone ``name`` ('swinfusion', 'seafusion', 'realtime').

    ``in_channels`` is 3 (RGB fusion, SSVIF default) or 1 (luma fused,
    visible chroma carried); ``output`` is 'direct' (the papers') or
    'blend' (see ``FusionModel``, also for ``refine_width``); extra keywords go to the backbone.
    """
    spec = get_backbone(name)
    backbone = spec.backbone(in_channels=in_channels, **kw)
    decoder = spec.decoder(backbone.out_channels, decoder_channels(in_channels, output))
    return FusionModel(
        backbone, decoder, in_channels=in_channels, output=output, refine_width=refine_width
    )


def fusion_model_from_config(model_cfg) -> FusionModel:
    """
    Build the fusion model a ``training.config.ModelConfig`` describes.

    Used by the trainer, checkpoints and export.
    """
    if getattr(model_cfg, 'decoder', 'default') == 'mth':
        return build_multitask_model(model_cfg)
    return build_fusion_model(model_cfg.backbone, in_channels=model_cfg.in_channels,
                              output=model_cfg.output, refine_width=int(model_cfg.refine_width),
                              **(model_cfg.backbone_kwargs or {}))


def build_multitask_model(model_cfg) -> FusionModel:
    """MultiTaskVIF: the backbone with its decoder replaced by the multi-task head (MTH)."""
    from .multitask import MultiTaskFusionModel, MultiTaskHead

    spec = get_backbone(model_cfg.backbone)
    ch, out = model_cfg.in_channels, model_cfg.output
    backbone = spec.backbone(in_channels=ch, **(model_cfg.backbone_kwargs or {}))
    head = MultiTaskHead(backbone.out_channels, decoder_channels(ch, out), model_cfg.seg_classes,
                         spec.decoder, **(model_cfg.decoder_kwargs or {}))
    return MultiTaskFusionModel(backbone, head, in_channels=ch, output=out,
                                refine_width=int(getattr(model_cfg, 'refine_width', 0)))
