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
Qabf (Q^{AB/F}): edge-information preservation, Xydeas & Petrovic (2000).

Written here because neither scikit-image, kornia nor pytorch-msssim has it
(piq has no Qabf either, and cannot be installed beside this torch anyway).
scipy's ``correlate`` supplies the Sobel filtering.

For each source S in {A, B} and the fused image F:
  g = sqrt(sx^2 + sy^2), alpha = atan(sy / sx)   (Sobel as MATLAB
      conv2(x, h, 'same'): zero padding, true convolution, so sx has the
      sign of conv2's; alpha = pi/2 where sx == 0 - with that rule the sign
      of sx changes the result, and VIFB's is needed to match its values)
  G^{SF} = min(gS, gF) / max(gS, gF)             (0 where both are 0)
  A^{SF} = 1 - |alphaS - alphaF| / (pi/2)
  Q^{SF} = Tg / (1 + exp(kg (G - Dg))) * Ta / (1 + exp(ka (A - Da)))
  Qabf   = sum(Q^{AF} gA^L + Q^{BF} gB^L) / sum(gA^L + gB^L)
with L=1, Tg=0.9994, kg=-15, Dg=0.5, Ta=0.9879, ka=-22, Da=0.8.

Where gS == gF > 0 the ratio is 1; the widely circulated MATLAB code sets
it to gF there (a slip); both give Q_g ~ Tg, and the VIFB check passes
(max gap 3e-5) without copying it.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate

from ._images import as_plane, same_size


L, TG, KG, DG, TA, KA, DA = 1.0, 0.9994, -15.0, 0.5, 0.9879, -22.0, 0.8

_SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_SOBEL_Y = _SOBEL_X.T


def _edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx = -correlate(x, _SOBEL_X, mode='constant', cval=0.0)
    sy = correlate(x, _SOBEL_Y, mode='constant', cval=0.0)
    g = np.hypot(sx, sy)
    with np.errstate(divide='ignore', invalid='ignore'):
        a = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1.0, sx)))
    return g, a


def _preservation(gs, as_, gf, af) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = np.where(gs > gf, gf / gs, gs / gf)
    ratio = np.where((gs == 0) & (gf == 0), 0.0, ratio)  # no edge in either: no credit
    ratio = np.nan_to_num(ratio, nan=0.0, posinf=0.0)
    orient = 1.0 - np.abs(as_ - af) / (np.pi / 2)
    qg = TG / (1.0 + np.exp(KG * (ratio - DG)))
    qa = TA / (1.0 + np.exp(KA * (orient - DA)))
    return qg * qa


def qabf(f, a, b) -> float:
    """Q^{AB/F} of fused ``f`` given sources ``a`` and ``b`` (2-D arrays, 0-255)."""
    pf, pa, pb = as_plane(f, 'fused'), as_plane(a, 'ir'), as_plane(b, 'visible')
    same_size(('fused', pf), ('ir', pa), ('visible', pb))
    gf, af = _edges(pf)
    ga, aa = _edges(pa)
    gb, ab = _edges(pb)
    wa, wb = ga ** L, gb ** L
    den = (wa + wb).sum()
    if den == 0:
        return 0.0  # flat sources: no edges to preserve
    num = (_preservation(ga, aa, gf, af) * wa + _preservation(gb, ab, gf, af) * wb).sum()
    return float(num / den)
