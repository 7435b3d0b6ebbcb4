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
Visual information fidelity (VIF), pixel-domain multi-scale form.

Sheikh & Bovik, "Image information and visual quality", IEEE TIP 2006,
pixel-domain version (``vifp``): four scales, at scale s (1..4) an N x N
Gaussian window with N = 2^(5-s) + 1 and sigma = N/5; between scales the
images are Gaussian filtered ('valid') and decimated by 2; sigma_n^2 = 2.

    g   = sigma_rd / sigma_r^2,   sv^2 = sigma_d^2 - g sigma_rd
    VIF = sum log10(1 + g^2 sigma_r^2 / (sv^2 + sigma_n^2))
          / sum log10(1 + sigma_r^2 / sigma_n^2)

Written here (scipy's FFT convolution does the filtering) because neither
scikit-image, kornia nor pytorch-msssim implements VIF; piq does, but needs
torchvision, which cannot load beside the installed torch.  For fusion the
sources are the references and F the distorted image.  VIFB's ``VIFF``
(Han et al. 2013) is a different metric and is not reproduced.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from ._images import as_plane, same_size


SIGMA_N_SQ = 2.0
_EPS = 1e-10


def _gaussian(n: int) -> np.ndarray:
    sigma = n / 5.0
    r = np.arange(n) - (n - 1) / 2.0
    g = np.exp(-(r ** 2) / (2 * sigma ** 2))
    w = np.outer(g, g)
    return w / w.sum()


def _valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return fftconvolve(x, w, mode='valid')  # w is symmetric: convolution == correlation


def vif(ref, dist) -> float:
    """VIF of ``dist`` with respect to reference ``ref`` (2-D arrays)."""
    r, d = as_plane(ref, 'reference'), as_plane(dist, 'distorted')
    same_size(('reference', r), ('distorted', d))
    if min(r.shape) < 33:
        raise ValueError(
            f'VIF (4 scales) needs both sides >= 33 px, got {r.shape[0]}x{r.shape[1]}'
        )
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (5 - scale) + 1
        w = _gaussian(n)
        if scale > 1:
            r = _valid(r, w)[::2, ::2]
            d = _valid(d, w)[::2, ::2]
        mu_r, mu_d = _valid(r, w), _valid(d, w)
        s_rr = np.maximum(_valid(r * r, w) - mu_r ** 2, 0.0)
        s_dd = np.maximum(_valid(d * d, w) - mu_d ** 2, 0.0)
        s_rd = _valid(r * d, w) - mu_r * mu_d
        g = s_rd / (s_rr + _EPS)
        sv = s_dd - g * s_rd
        flat_r = s_rr < _EPS
        g = np.where(flat_r, 0.0, g)
        sv = np.where(flat_r, s_dd, sv)
        s_rr = np.where(flat_r, 0.0, s_rr)
        flat_d = s_dd < _EPS
        g = np.where(flat_d, 0.0, g)
        sv = np.where(flat_d, 0.0, sv)
        neg = g < 0
        sv = np.where(neg, s_dd, sv)
        g = np.where(neg, 0.0, g)
        sv = np.maximum(sv, _EPS)
        num += np.log10(1.0 + g * g * s_rr / (sv + SIGMA_N_SQ)).sum()
        den += np.log10(1.0 + s_rr / SIGMA_N_SQ).sum()
    if den == 0:
        raise ValueError(
            'VIF is undefined for a flat reference image (no information to preserve)'
        )
    return float(num / den)


def fusion_vif(f, ir, vis, reduce: str = 'mean') -> float:
    """VIF(IR->F) and VIF(VI->F), averaged (``reduce='mean'``) or summed (``'sum'``)."""
    total = vif(ir, f) + vif(vis, f)
    if reduce == 'sum':
        return total
    if reduce == 'mean':
        return total / 2.0
    raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
