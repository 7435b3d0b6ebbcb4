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
Structural similarity: SSIM and MS-SSIM, summed over the two sources.

SSIM uses ``skimage.metrics.structural_similarity``: with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` its
11x11 Gaussian window and crop-the-border mean are Wang et al.'s reference
``ssim_index`` with ``filter2(..., 'valid')`` (VIFB); its defaults (7x7
uniform window, sample covariance) are the CDDFuse evaluator's.

MS-SSIM uses ``pytorch_msssim.ms_ssim`` (Wang et al. 2003: 11x11 Gaussian
sigma 1.5, five scales, the standard weights, 2x average-pool between
scales); it needs both sides > 160 px.  (piq would be the other choice, but
it needs torchvision, which cannot load beside the installed torch.)
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from ._images import as_plane, same_size


DATA_RANGE = 255.0
MS_SSIM_MIN_SIDE = 161


def ssim(x, y, window: str = 'gaussian11') -> float:
    """SSIM of two 2-D images on 0-255.  window: 'gaussian11' or 'uniform7'."""
    px, py = as_plane(x, 'x'), as_plane(y, 'y')
    same_size(('x', px), ('y', py))
    if window == 'gaussian11':
        if min(px.shape) < 11:
            raise ValueError(
                f'SSIM with an 11x11 window needs images of at least 11x11, got {px.shape}'
            )
        return float(structural_similarity(px, py, data_range=DATA_RANGE, gaussian_weights=True,
                                           sigma=1.5, use_sample_covariance=False))
    if window == 'uniform7':
        if min(px.shape) < 7:
            raise ValueError(
                f'SSIM with a 7x7 window needs images of at least 7x7, got {px.shape}'
            )
        return float(structural_similarity(px, py, data_range=DATA_RANGE))
    raise ValueError(f"window must be 'gaussian11' or 'uniform7', got {window!r}")


def ms_ssim(x, y) -> float:
    """
    MS-SSIM of two 2-D images on 0-255.

    Computed in float32 (torch's float64 CPU convolution is 3-7x slower);
    the difference from float64 is below 1e-5.
    """
    from pytorch_msssim import ms_ssim as _ms_ssim
    import torch

    px, py = as_plane(x, 'x'), as_plane(y, 'y')
    same_size(('x', px), ('y', py))
    if min(px.shape) < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f'MS-SSIM (5 scales, 11x11 window) needs both sides >= {MS_SSIM_MIN_SIDE} px, '
            f'got {px.shape[0]}x{px.shape[1]}'
        )
    tx = torch.from_numpy(px.astype(np.float32))[None, None]
    ty = torch.from_numpy(py.astype(np.float32))[None, None]
    return float(_ms_ssim(tx, ty, data_range=DATA_RANGE, size_average=True))


def fusion_ssim(f, ir, vis, window: str = 'gaussian11') -> float:
    """SSIM(F, IR) + SSIM(F, VI)."""
    return ssim(f, ir, window) + ssim(f, vis, window)


def fusion_ms_ssim(f, ir, vis) -> float:
    """MS-SSIM(F, IR) + MS-SSIM(F, VI)."""
    return ms_ssim(f, ir) + ms_ssim(f, vis)
