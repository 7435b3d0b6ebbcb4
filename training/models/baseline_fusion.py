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
The one-line fusions every learned one is read against, as torch modules.

Visible only, thermal only, average, per-channel max and max-luminance
(Y = max(Y_visible, T), visible chroma kept), with the FusionModel interface
(``module(visible, thermal).fused``), so a segmenter can be trained and
exported on them exactly like on a learned fusion: the segmentation
protocols' baseline rows and the "segmenter fed one camera" rows come from
here. ``evaluation.compare`` has the same rules on numpy images for the
fusion metrics.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch


__all__ = ['BASELINE_NAMES', 'BaselineFusion', 'baseline_modules']

BASELINE_NAMES = ('visible-only', 'thermal-only', 'average', 'max', 'max-luminance')


class BaselineFusion(torch.nn.Module):
    """A trivial fusion with the FusionModel interface; ``kind`` is one of BASELINE_NAMES."""

    def __init__(self, kind: str):
        super().__init__()
        if kind not in BASELINE_NAMES:
            raise ValueError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINE_NAMES)}")
        self.kind = kind

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor) -> SimpleNamespace:
        t = thermal.expand(-1, 3, -1, -1)  # grey thermal as 3 channels, like compare_fusion
        if self.kind == 'max-luminance':
            from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb

            ycc = rgb_to_ycbcr(visible)
            y = torch.maximum(ycc[:, :1], thermal[:, :1])
            return SimpleNamespace(
                fused=ycbcr_to_rgb(torch.cat([y, ycc[:, 1:]], 1)).clamp(0.0, 1.0)
            )
        if self.kind == 'visible-only':
            return SimpleNamespace(fused=visible + _unused(thermal))
        if self.kind == 'thermal-only':
            return SimpleNamespace(fused=t + _unused(visible))
        if self.kind == 'average':
            return SimpleNamespace(fused=(visible + t) / 2)
        return SimpleNamespace(fused=torch.maximum(visible, t))


def _unused(x: torch.Tensor) -> torch.Tensor:
    """
    Return zero that depends on ``x`` (the sum of an empty slice; never NaN).

    An exported graph drops inputs nothing depends on; a bundle made of a
    one-camera baseline must keep the node's two-input contract.
    """
    return x[..., :0, :0].sum()


def baseline_modules() -> dict[str, torch.nn.Module]:
    """Every baseline, by name."""
    return {name: BaselineFusion(name) for name in BASELINE_NAMES}
