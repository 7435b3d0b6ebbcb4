"""Sum of the correlations of differences (SCD), Aslantas & Bendes (2015).

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
    pf, pa, pb = as_plane(f, "fused"), as_plane(ir, "ir"), as_plane(vis, "visible")
    same_size(("fused", pf), ("ir", pa), ("visible", pb))
    return corr2(pf - pb, pa) + corr2(pf - pa, pb)
