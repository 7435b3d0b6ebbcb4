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
Segmentation model S for the pixel-level branch of SSVIF: SegFormer from scratch.

SSVIF uses SegFormer-B3 trained from scratch (no pretrained weights), so
the model is always built from a config and never downloaded.
``transformers.SegformerConfig`` defaults to B0; every B3 value is written
out here so a change of library defaults cannot silently change the model.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F
from transformers import SegformerConfig, SegformerForSemanticSegmentation


__all__ = [
    'IMAGENET_MEAN',
    'IMAGENET_STD',
    'SEGFORMER_VARIANTS',
    'SegmentationModel',
    'segformer_config',
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Values from the SegFormer paper (Xie et al., 2021), Table 6 / released configs.
_COMMON = {
    'num_channels': 3,
    'num_encoder_blocks': 4,
    'patch_sizes': [7, 3, 3, 3],
    'strides': [4, 2, 2, 2],
    'sr_ratios': [8, 4, 2, 1],
    'mlp_ratios': [4, 4, 4, 4],
    'hidden_act': 'gelu',
    'hidden_dropout_prob': 0.0,
    'attention_probs_dropout_prob': 0.0,
    'classifier_dropout_prob': 0.1,
    'drop_path_rate': 0.1,
    'layer_norm_eps': 1e-6,
    'initializer_range': 0.02,
    'semantic_loss_ignore_index': 255,
}

SEGFORMER_VARIANTS: dict[str, dict] = {
    'b3': {
        'depths': [3, 4, 18, 3],
        'hidden_sizes': [64, 128, 320, 512],
        'num_attention_heads': [1, 2, 5, 8],
        'decoder_hidden_size': 768,
    },
    'b0': {
        'depths': [2, 2, 2, 2],
        'hidden_sizes': [32, 64, 160, 256],
        'num_attention_heads': [1, 2, 5, 8],
        'decoder_hidden_size': 256,
    },
    # for tests only: same topology, minimal widths and depths
    'tiny': {
        'depths': [1, 1, 1, 1],
        'hidden_sizes': [8, 16, 32, 64],
        'num_attention_heads': [1, 2, 4, 8],
        'decoder_hidden_size': 32,
    },
}


def segformer_config(variant: str = 'b3', num_classes: int = 15) -> SegformerConfig:
    """Full SegFormer config for ``variant`` ('b3', 'b0' or 'tiny') with ``num_classes`` labels."""
    try:
        values = SEGFORMER_VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f'unknown SegFormer variant {variant!r}; known: {sorted(SEGFORMER_VARIANTS)}'
        ) from None
    return SegformerConfig(**_COMMON, **values, num_labels=num_classes,
                           id2label={i: str(i) for i in range(num_classes)},
                           label2id={str(i): i for i in range(num_classes)})


class SegmentationModel(nn.Module):
    """Image in [0, 1] (B, 3, H, W) -> logits (B, num_classes, H, W), randomly initialised."""

    def __init__(self, variant: str = 'b3', num_classes: int = 15):
        super().__init__()
        self.variant = variant
        self.num_classes = num_classes
        self.config = segformer_config(variant, num_classes)
        self.segformer = SegformerForSemanticSegmentation(self.config)
        self.register_buffer(
            'mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = (image - self.mean) / self.std
        logits = self.segformer(pixel_values=x).logits  # (B, n, H/4, W/4)
        return F.interpolate(logits, size=image.shape[-2:], mode='bilinear', align_corners=False)
