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
Losses of SSVIF, MultiTaskVIF, SegMiF and EMMA.

SSVIF's fusion loss (Eq. 3) and L_csc (Eq. 4-6); supervised CE + Dice
(MultiTaskVIF); SegMiF's fusion loss; EMMA's sensing and equivariance losses.
"""
from training.losses.csc import CSCLoss, dice_loss, hybrid_loss, match_resolution, pseudo_label
from training.losses.emma import equivariant_views, sensing_loss
from training.losses.fusion import (
    color_loss,
    FusionLoss,
    gradient_loss,
    intensity_loss,
    sobel_magnitude,
    ssim_loss,
)
from training.losses.segmentation import masked_dice_loss, supervised_seg_loss
from training.losses.segmif import SegMiFFusionLoss, visual_saliency


__all__ = [
    'FusionLoss',
    'intensity_loss',
    'gradient_loss',
    'ssim_loss',
    'color_loss',
    'sobel_magnitude',
    'CSCLoss',
    'pseudo_label',
    'hybrid_loss',
    'dice_loss',
    'match_resolution',
    'supervised_seg_loss',
    'masked_dice_loss',
    'SegMiFFusionLoss',
    'visual_saliency',
    'sensing_loss',
    'equivariant_views',
]
