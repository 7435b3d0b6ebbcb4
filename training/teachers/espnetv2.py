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
ESPNetv2 segmentation network, written here to run a Cityscapes-trained teacher offline.

Why it exists: ``../shared/weights/espnetv2_s_2.0_city_1024x512.pth`` is a bare
state dict (no code came with the weights). It is used only at training time,
to make pseudo-labels on the visible image of real pairs; the vehicle never
imports it. The network below is the project's own code: it follows the paper
(Mehta et al., "ESPNetv2: A Light-weight, Power Efficient, and General Purpose
Convolutional Neural Network", CVPR 2019) and the names and shapes of the
tensors in the file, and loads that file with ``strict=True``. Where those two
left a detail open (the order of operations, pooling sizes, interpolation
flags) the authors' repository (sacmehta/EdgeNets, MIT licence) was read to
settle the fact; no code was taken from it.

Facts the network rests on (s = 2.0, Cityscapes, 20 outputs):

* Channels of the encoder levels: 32 (level 1, stride 2), 128 (stride 4),
  256 (stride 8), 512 (stride 16). Every conv has no bias, is followed by
  batch norm, and every activation is a per-channel PReLU.
* EESP unit (paper, Fig. 1c / 3): a grouped 1x1 "reduce" conv (K = 4 groups,
  ``out/4`` channels), K parallel depth-wise 3x3 convs with increasing
  dilation, hierarchical feature fusion (branch i adds the output of branch
  i-1), concatenation, BN + PReLU, a grouped (K = 4) 1x1 "expand" conv with BN,
  the identity shortcut, and a final PReLU. The dilation of branch i is that
  of an effective kernel ``3 + 2 i``, clipped to 3 x 3 (dilation 1) when it
  exceeds the level's receptive-field limit, then sorted: limits 13, 11, 9
  give dilations (1, 2, 3, 4); the stride-16 repeated units (limit 7) give
  (1, 1, 2, 3).
* Strided EESP (paper, Fig. 3b): the EESP unit with stride-2 depth-wise convs
  and no shortcut / final activation produces ``out - in`` channels; a 3 x 3
  average pool (stride 2, padding 1) of the input gives the other ``in``
  channels; the two are concatenated. The input image, average-pooled (3 x 3,
  stride 2, padding 1, repeatedly) to the same size, goes through a 3 x 3
  conv-BN-PReLU (3 -> 3 channels) and a 1 x 1 conv-BN (3 -> out) and is added
  ("input reinforcement"); a PReLU follows.
* Encoder layout: a 3 x 3 stride-2 conv (3 -> 32), strided EESP to 128,
  strided EESP to 256 plus 3 EESP units, strided EESP to 512 plus 7 EESP
  units. The classification stage (stride 32) is not part of the segmenter.
* Decoder (from the tensor shapes ``bu_dec_l1..4``, ``merge_enc_dec_l2..4``,
  ``bu_br_l2..4``): four "efficient pyramid pooling" blocks with 64, 48, 32 and
  20 outputs. Each projects to 10 channels (1 x 1 conv-BN-PReLU), runs a
  depth-wise 3 x 3 conv at five scales 2.0, 1.5, 1.0, 0.5, 0.1 of its input
  (smaller scales: adaptive average pooling to ceil(scale * size), at least
  5, conv, bilinear upsampling back; larger: bilinear upsampling, conv,
  adaptive average pooling back), concatenates the five (50 channels),
  applies BN-PReLU, a channel shuffle with 5 groups, a grouped 3 x 3
  conv-BN-PReLU (50 -> 10, 10 groups) and a 1 x 1 conv to the output width;
  the first three end with BN-PReLU, the last has a bias instead. Between
  blocks the map is upsampled x2 (bilinear, ``align_corners=True``) and the
  encoder feature of that stride is added after a grouped 3 x 3
  conv-BN-PReLU (groups = gcd(in, out)) gated by a squeeze-style weight
  (global average pool, 1 x 1 conv, sigmoid); BN-PReLU follows the sum.
  The stride-2 logits are bilinearly upsampled (``align_corners=True``) to the
  input size.
* Input: RGB scaled to [0, 1], normalised with the ImageNet mean and std,
  trained on 1024 x 512 crops. Outputs: the 19 Cityscapes train ids, then
  "background".

Checked: on the Coral Cityscapes example (resized to 1024 x 512), 89 % of the
pixels agree with that image's reference mask (made by a different network,
the TFLite DeepLab gets 92 %); on 512 x 256 and 768 x 384 inputs the logits
were identical (max |difference| 0) to those of the authors' implementation
run, outside the project, on the same state dict. Upsampling goes to the
skip feature's size rather than by a factor of 2, which is the same for
sizes divisible by 16 and also works for other sizes.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn, Tensor
import torch.nn.functional as F

from .common import check_rgb, CONFIDENCE_KINDS, finish, TeacherOutput


WEIGHTS_FILE = 'espnetv2_s_2.0_city_1024x512.pth'
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUM_OUTPUTS = 20  # 19 Cityscapes train ids, then background
TRAINED_SIZE = (1024, 512)  # (width, height)

_LEVEL_WIDTHS = (32, 128, 256, 512)
_REPEATS = {'level3': 3, 'level4': 7}
_BRANCHES = 4
_RF_LIMITS = {'level2_0': 13, 'level3_0': 11, 'level3': 9, 'level4_0': 9, 'level4': 7}
_PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)
_PYRAMID_WIDTH = 10
_DECODER_WIDTHS = (64, 48, 32)


def branch_dilations(branches: int, rf_limit: int) -> list[int]:
    """Dilation of each depth-wise branch of an EESP unit, in branch order."""
    sizes = sorted(k if k <= rf_limit else 3 for k in (3 + 2 * i for i in range(branches)))
    return [(k - 1) // 2 for k in sizes]


def _upsample_to(x: Tensor, size) -> Tensor:
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=True)


class ConvNormAct(nn.Module):
    """Conv (no bias) -> BatchNorm -> PReLU, as separate ``conv``/``bn``/``act`` children."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        if act:
            self.act = nn.PReLU(c_out)

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn(self.conv(x))
        return self.act(y) if hasattr(self, 'act') else y


class NormAct(nn.Module):
    """BatchNorm -> PReLU with ``bn``/``act`` children."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(x))


class DepthwiseDilated(nn.Module):
    """Depth-wise 3 x 3 conv with a dilation (no norm): one EESP branch."""

    def __init__(self, channels: int, dilation: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride, dilation, dilation=dilation,
                              groups=channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class SeqConvNormAct(nn.Module):
    """Conv -> BN -> PReLU kept in one ``cbr`` Sequential (the decoder's naming)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, groups: int = 1):
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.PReLU(c_out),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.cbr(x)


class SeqNormAct(nn.Module):
    """BN -> PReLU kept in one ``br`` Sequential (the decoder's naming)."""

    def __init__(self, channels: int):
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.br(x)


class ChannelShuffle(nn.Module):
    """Interleave the channels of ``groups`` equal groups (ShuffleNet)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        x = x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2)
        return x.reshape(n, c, h, w)


class EESP(nn.Module):
    """
    Extremely efficient spatial pyramid unit: reduce, split, transform, merge.

    With ``downsample=True`` the depth-wise branches have stride 2 and the unit
    returns the merged map before any shortcut or final activation (the
    strided unit below finishes it).
    """

    def __init__(self, c_in: int, c_out: int, rf_limit: int, downsample: bool = False,
                 branches: int = _BRANCHES):
        super().__init__()
        width = c_out // branches
        if width * branches != c_out:
            raise ValueError(f'EESP: {c_out} outputs do not split into {branches} branches')
        self.downsample = downsample
        self.proj_1x1 = ConvNormAct(c_in, width, 1, groups=branches)
        self.spp_dw = nn.ModuleList(
            DepthwiseDilated(width, d, 2 if downsample else 1)
            for d in branch_dilations(branches, rf_limit)
        )
        self.conv_1x1_exp = ConvNormAct(c_out, c_out, 1, groups=branches, act=False)
        self.br_after_cat = NormAct(c_out)
        # the strided unit never applies it, but the weights file has it
        self.module_act = nn.PReLU(c_out)

    def forward(self, x: Tensor) -> Tensor:
        reduced = self.proj_1x1(x)
        fused = []
        for branch in self.spp_dw:
            y = branch(reduced)
            fused.append(y if not fused else y + fused[-1])  # hierarchical feature fusion
        merged = self.conv_1x1_exp(self.br_after_cat(torch.cat(fused, dim=1)))
        if self.downsample:
            return merged
        if merged.shape == x.shape:
            merged = merged + x
        return self.module_act(merged)


class StridedEESP(nn.Module):
    """Halve the resolution: [avg-pool(x), strided EESP(x)] + reinforcement from the image."""

    def __init__(self, c_in: int, c_out: int, rf_limit: int, image_channels: int = 3):
        super().__init__()
        self.eesp = EESP(c_in, c_out - c_in, rf_limit, downsample=True)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1)
        self.inp_reinf = nn.Sequential(
            ConvNormAct(image_channels, image_channels, 3),
            ConvNormAct(image_channels, c_out, 1, act=False),
        )
        self.act = nn.PReLU(c_out)

    def forward(self, x: Tensor, image: Tensor) -> Tensor:
        pooled = self.avg(x)
        out = torch.cat([pooled, self.eesp(x)], dim=1)
        target = pooled.shape[-2:]
        small = image
        while small.shape[-2:] != target:
            if small.shape[-2] < target[0] or small.shape[-1] < target[1]:
                raise ValueError(f'input reinforcement: image {tuple(image.shape[-2:])} does '
                                 f'not pool down to {tuple(target)}')
            small = F.avg_pool2d(small, 3, stride=2, padding=1)
        return self.act(out + self.inp_reinf(small))


class Encoder(nn.Module):
    """ESPNetv2 encoder up to stride 16; returns the features at strides 2, 4, 8, 16."""

    def __init__(self):
        super().__init__()
        w1, w2, w3, w4 = _LEVEL_WIDTHS
        self.level1 = ConvNormAct(3, w1, 3, stride=2)
        self.level2_0 = StridedEESP(w1, w2, _RF_LIMITS['level2_0'])
        self.level3_0 = StridedEESP(w2, w3, _RF_LIMITS['level3_0'])
        self.level3 = nn.ModuleList(
            EESP(w3, w3, _RF_LIMITS['level3']) for _ in range(_REPEATS['level3']))
        self.level4_0 = StridedEESP(w3, w4, _RF_LIMITS['level4_0'])
        self.level4 = nn.ModuleList(
            EESP(w4, w4, _RF_LIMITS['level4']) for _ in range(_REPEATS['level4']))

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        s2 = self.level1(image)
        s4 = self.level2_0(s2, image)
        s8 = self.level3_0(s4, image)
        for unit in self.level3:
            s8 = unit(s8)
        s16 = self.level4_0(s8, image)
        for unit in self.level4:
            s16 = unit(s16)
        return s2, s4, s8, s16


class PyramidPoolBlock(nn.Module):
    """Efficient pyramid pooling: one depth-wise conv per scale on a narrow projection."""

    def __init__(self, c_in: int, c_out: int, width: int = _PYRAMID_WIDTH,
                 scales: tuple[float, ...] = _PYRAMID_SCALES, norm_out: bool = True):
        super().__init__()
        self.scales = tuple(sorted(scales, reverse=True))
        n = len(self.scales)
        self.projection_layer = SeqConvNormAct(c_in, width, 1)
        self.stages = nn.ModuleList(
            nn.Conv2d(width, width, 3, 1, 1, groups=width, bias=False) for _ in range(n))
        self.merge_layer = nn.Sequential(
            SeqNormAct(width * n),
            ChannelShuffle(n),
            SeqConvNormAct(width * n, width, 3, groups=width),
            nn.Conv2d(width, c_out, 1, bias=not norm_out),
        )
        self.norm_out = norm_out
        if norm_out:
            self.br = SeqNormAct(c_out)

    def forward(self, x: Tensor) -> Tensor:
        x = self.projection_layer(x)
        h, w = x.shape[-2:]
        outs = []
        for scale, conv in zip(self.scales, self.stages):
            size = (max(math.ceil(h * scale), 5), max(math.ceil(w * scale), 5))
            if scale > 1.0:
                y = F.adaptive_avg_pool2d(conv(_upsample_to(x, size)), (h, w))
            elif scale < 1.0:
                y = _upsample_to(conv(F.adaptive_avg_pool2d(x, size)), (h, w))
            else:
                y = conv(x)
            outs.append(y)
        y = self.merge_layer(torch.cat(outs, dim=1))
        return self.br(y) if self.norm_out else y


class GatedSkip(nn.Module):
    """Encoder feature -> decoder width: grouped 3 x 3 conv scaled by a global sigmoid gate."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.wt_layer = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.Sigmoid(),
        )
        self.expansion_layer = SeqConvNormAct(c_in, c_out, 3, groups=math.gcd(c_in, c_out))

    def forward(self, x: Tensor) -> Tensor:
        return self.expansion_layer(x) * self.wt_layer(x)


class ESPNetv2Seg(nn.Module):
    """
    ESPNetv2 (s = 2.0) semantic segmenter; ``forward`` returns logits at the input size.

    The parameter names match ``espnetv2_s_2.0_city_1024x512.pth``, so
    ``load_state_dict(..., strict=True)`` works.
    """

    def __init__(self, num_classes: int = NUM_OUTPUTS):
        super().__init__()
        self.base_net = Encoder()
        d1, d2, d3 = _DECODER_WIDTHS
        width = min(num_classes // 2, _PYRAMID_WIDTH)
        w1, w2, w3, w4 = _LEVEL_WIDTHS
        self.bu_dec_l1 = PyramidPoolBlock(w4, d1, width)
        self.bu_dec_l2 = PyramidPoolBlock(d1, d2, width)
        self.bu_dec_l3 = PyramidPoolBlock(d2, d3, width)
        self.bu_dec_l4 = PyramidPoolBlock(d3, num_classes, width, norm_out=False)
        self.merge_enc_dec_l2 = GatedSkip(w3, d1)
        self.merge_enc_dec_l3 = GatedSkip(w2, d2)
        self.merge_enc_dec_l4 = GatedSkip(w1, d3)
        self.bu_br_l2 = nn.Sequential(nn.BatchNorm2d(d1), nn.PReLU(d1))
        self.bu_br_l3 = nn.Sequential(nn.BatchNorm2d(d2), nn.PReLU(d2))
        self.bu_br_l4 = nn.Sequential(nn.BatchNorm2d(d3), nn.PReLU(d3))

    def forward(self, image: Tensor) -> Tensor:
        s2, s4, s8, s16 = self.base_net(image)
        y = self.bu_dec_l1(s16)
        steps = (
            (s8, self.merge_enc_dec_l2, self.bu_br_l2, self.bu_dec_l2),
            (s4, self.merge_enc_dec_l3, self.bu_br_l3, self.bu_dec_l3),
            (s2, self.merge_enc_dec_l4, self.bu_br_l4, self.bu_dec_l4),
        )
        for skip, gate, norm, block in steps:
            y = block(norm(_upsample_to(y, skip.shape[-2:]) + gate(skip)))
        return _upsample_to(y, image.shape[-2:])


def load_espnetv2(weights: str | Path, device: str | torch.device = 'cpu') -> ESPNetv2Seg:
    """Build the network, load the Cityscapes state dict strictly, and set eval mode."""
    path = Path(weights)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    # the file holds CUDA tensors: map them to the CPU first
    state = torch.load(path, map_location='cpu', weights_only=True)
    num_classes = state['bu_dec_l4.merge_layer.3.weight'].shape[0]
    model = ESPNetv2Seg(num_classes)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)


def normalise(rgb: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> ImageNet-normalised input."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


class ESPNetv2Teacher:
    """
    ``Teacher`` running ESPNetv2 with torch.

    ``size`` = (width, height) the frame is resized to before the network
    (default 1024 x 512, the training size; 768 x 384 or 512 x 256 trade
    accuracy for speed). Decisions are made at that size, then resized to
    the frame (ids: nearest, confidence: bilinear). ``num_threads`` calls
    ``torch.set_num_threads`` (process-wide); on a busy 2-core machine one
    thread was faster than two.
    """

    name = 'espnetv2'

    def __init__(self, weights: str | Path, size: tuple[int, int] = TRAINED_SIZE,
                 device: str | torch.device = 'cpu', confidence: str = 'prob',
                 num_threads: int | None = None):
        if confidence not in CONFIDENCE_KINDS:
            raise ValueError(f'confidence {confidence!r}: one of {CONFIDENCE_KINDS}')
        width, height = (int(v) for v in size)
        if width < 32 or height < 32:
            raise ValueError(f'inference size {size} is too small (at least 32 x 32)')
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        self.size = (width, height)
        self.device = torch.device(device)
        self.confidence_kind = confidence
        self.model = load_espnetv2(weights, self.device)

    @torch.inference_mode()
    def cityscapes_probs(self, rgb: np.ndarray) -> np.ndarray:
        """Softmax probabilities (20, height, width) at the inference size (19 ids, background)."""
        rgb = check_rgb(rgb)
        x = cv2.resize(rgb, self.size, interpolation=cv2.INTER_LINEAR)
        t = torch.from_numpy(x).to(self.device).permute(2, 0, 1)[None].float().div_(255.0)
        logits = self.model(normalise(t))[0]
        return torch.softmax(logits, dim=0).cpu().numpy()

    def predict(self, rgb: np.ndarray) -> TeacherOutput:
        """Pseudo-label one uint8 RGB frame (H, W, 3)."""
        rgb = check_rgb(rgb)
        probs = self.cityscapes_probs(rgb)
        ids = probs.argmax(axis=0).astype(np.uint8)
        return finish(probs, ids, rgb.shape[:2], self.confidence_kind)
