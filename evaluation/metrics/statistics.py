# noqa: A005 (always imported as evaluation.metrics.statistics, never run from its folder)
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
Single-image statistics: SD, SF and AG (no reference needed).

Plain numpy: each is a line of arithmetic, and the point of this module is
to pin down the normalisation, which differs between toolboxes (see
``conventions.py``).
"""
from __future__ import annotations

import numpy as np

from ._images import as_plane


def standard_deviation(img) -> float:
    """Return the population standard deviation (divides by N), as VIFB's ``Variance``."""
    return float(np.std(as_plane(img)))


def spatial_frequency(img, normalisation: str = 'MN') -> float:
    """
    SF = sqrt(RF^2 + CF^2) from horizontal (RF) and vertical (CF) first differences.

    ``normalisation="MN"`` (VIFB): each sum of squared differences divided by
    M*N.  ``"count"`` (CDDFuse): each divided by its own number of differences.
    """
    x = as_plane(img)
    dh = np.diff(x, axis=1) ** 2
    dv = np.diff(x, axis=0) ** 2
    if normalisation == 'MN':
        rf2, cf2 = dh.sum() / x.size, dv.sum() / x.size
    elif normalisation == 'count':
        rf2, cf2 = dh.mean(), dv.mean()
    else:
        raise ValueError(f"normalisation must be 'MN' or 'count', got {normalisation!r}")
    return float(np.sqrt(rf2 + cf2))


def average_gradient(img, denominator: str = '(M-1)(N-1)') -> float:
    """
    AG = sum sqrt((gx^2 + gy^2) / 2) / D.

    Gradients as MATLAB ``gradient`` / ``np.gradient`` (central differences
    inside, one-sided at the border).  D = (M-1)(N-1) (VIFB) or M*N
    (CDDFuse, i.e. the mean).
    """
    x = as_plane(img)
    gy, gx = np.gradient(x)
    s = np.sqrt((gx ** 2 + gy ** 2) / 2.0).sum()
    m, n = x.shape
    if denominator == '(M-1)(N-1)':
        return float(s / ((m - 1) * (n - 1)))
    if denominator == 'MN':
        return float(s / (m * n))
    raise ValueError(f"denominator must be '(M-1)(N-1)' or 'MN', got {denominator!r}")
