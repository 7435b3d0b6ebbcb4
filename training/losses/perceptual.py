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
Perceptual loss of CAF's search space (seed paper 002, Fig. 1) on VGG-16 features.

    L_per(F, X) = sum_{l in L} 1/(C_l H_l W_l) ||phi_l(F) - phi_l(X)||_2^2,  L = {1, 3, 5, 9, 13},

phi_l the activation (after ReLU) of the l-th of VGG-16's 13 conv layers,
i.e. conv1_1, conv2_1, conv3_1, conv4_2 and conv5_3. The extracted
formula prints ||.||_1^2; we take the squared L2 distance normalised by
the feature size (Johnson et al.'s perceptual loss, which CAF cites
through Ledig et al.). Grey images are repeated to three channels and
ImageNet-normalised, as VGG-16 expects.

VGG-16 weights cannot be downloaded here, and torchvision does not work
with the project's CPU torch, so :func:`vgg16_features` builds the
feature stack itself with torchvision's module layout: a torchvision
``vgg16`` state dict (``features.N.weight`` keys; ``classifier.*`` is
ignored) or a features-only one (``N.weight``) loads from a user-given
file with :func:`load_vgg16_features`. :class:`PerceptualLoss` accepts any
``nn.Sequential`` and tap indices, so tests run it on a small self-made
network. The perceptual terms are *not* in the default search space
(config/training/caf_search.yaml) because the weights are not here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ros2_ssvif.errors import SsvifError
import torch
from torch import nn, Tensor


__all__ = ['VGG16_CFG', 'VGG16_TAPS', 'PerceptualError', 'vgg16_features', 'load_vgg16_features',
           'PerceptualLoss']

#: torchvision's VGG-16 "D" configuration (conv widths, "M" = 2x2 max pool).
VGG16_CFG = (
    64,
    64,
    'M',
    128,
    128,
    'M',
    256,
    256,
    256,
    'M',
    512,
    512,
    512,
    'M',
    512,
    512,
    512,
    'M',
)
#: Indices in ``features`` of the ReLUs after conv layers 1, 3, 5, 9 and 13.
VGG16_TAPS = (1, 6, 11, 20, 29)

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class PerceptualError(SsvifError, ValueError):
    """The VGG-16 weight file is missing or does not fit the network."""


def vgg16_features() -> nn.Sequential:
    """VGG-16's convolutional part, randomly initialised, with torchvision's indices."""
    layers: list[nn.Module] = []
    c = 3
    for v in VGG16_CFG:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=False)]
            c = int(v)
    return nn.Sequential(*layers)


def load_vgg16_features(path: str | Path) -> nn.Sequential:
    """VGG-16 features with the weights of ``path`` (a torchvision vgg16 or features-only dict)."""
    path = Path(path)
    if not path.is_file():
        raise PerceptualError(f'VGG-16 weight file not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # truncated / not a torch file
        raise PerceptualError(
            f'cannot read VGG-16 weights {path}: {str(exc).splitlines()[0]}'
        ) from None
    if not isinstance(state, dict):
        raise PerceptualError(f'{path}: expected a state dict, got {type(state).__name__}')
    feats = {k[len('features.'):] if k.startswith('features.') else k: v for k, v in state.items()
             if not k.startswith('classifier.')}
    net = vgg16_features()
    try:
        net.load_state_dict(feats, strict=True)
    except RuntimeError as exc:
        raise PerceptualError(
            f'{path} is not a VGG-16 state dict: {str(exc).splitlines()[0]}'
        ) from None
    return net


class PerceptualLoss(nn.Module):
    """sum over taps of mean squared feature differences; the extractor is frozen."""

    def __init__(
        self, features: nn.Sequential, taps: Sequence[int] = VGG16_TAPS, normalize: bool = True
    ):
        super().__init__()
        taps = sorted(int(t) for t in taps)
        if not taps or taps[0] < 0 or taps[-1] >= len(features):
            raise ValueError(f'taps {taps} out of range for a network of {len(features)} modules')
        self.features = features[: taps[-1] + 1]
        self.taps = tuple(taps)
        self.normalize = normalize
        self.features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer('mean', torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> 'PerceptualLoss':
        super().train(mode)
        self.features.eval()  # a frozen extractor never changes its behaviour
        return self

    def _feats(self, x: Tensor) -> list[Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.normalize:
            x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out

    def forward(self, fused: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            ref = self._feats(target)
        return sum(((a - b) ** 2).mean() for a, b in zip(self._feats(fused), ref))
