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
Sum of the correlations of differences (SCD), Aslantas & Bendes (2015).

    SCD = r(F - VI, IR) + r(F - IR, VI)

r is Pearson's correlation over all pixels (MATLAB ``corr2``).  A few
lines of numpy: scipy's ``pearsonr`` works on 1-D data and raises on
constant input, where we want a defined value.  When one side is constant
its correlation is undefined; it is taken as 0 (no shared information).
"""
from __future__ import annotations

import numpy as np

from ._images import as_plane, same_size


def corr2(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally sized arrays (0 if either is constant)."""
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def scd(f, ir, vis) -> float:
    """SCD of fused ``f`` from sources ``ir`` and ``vis`` (2-D arrays)."""
    pf, pa, pb = as_plane(f, 'fused'), as_plane(ir, 'ir'), as_plane(vis, 'visible')
    same_size(('fused', pf), ('ir', pa), ('visible', pb))
    return corr2(pf - pb, pa) + corr2(pf - pa, pb)
