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
Image-fusion quality metrics, one module per family.

``compute_all(fused, ir, visible, convention="vifb")`` returns every metric
in ``METRICS`` as a dict of floats.  Inputs are uint8-valued arrays (0-255),
HxW or HxWx3 RGB, all the same size.  See ``conventions.py`` for exactly
how each number is defined under ``vifb`` (default) and ``cddfuse``.

Higher is better for all but DeltaE (lower is better).
"""
from __future__ import annotations

import warnings

import numpy as np

from . import color, information, qabf, scd, statistics, structural, vif
from ._images import channel_triples
from .conventions import CDDFUSE, Convention, CONVENTIONS, get_convention, VIFB


METRICS: tuple[str, ...] = (
    'EN',
    'SD',
    'SF',
    'AG',
    'MI',
    'SCD',
    'VIF',
    'Qabf',
    'SSIM',
    'MS_SSIM',
    'DeltaE',
)

__all__ = [
    'METRICS',
    'compute_all',
    'Convention',
    'CONVENTIONS',
    'VIFB',
    'CDDFUSE',
    'get_convention',
    'color',
    'information',
    'qabf',
    'scd',
    'statistics',
    'structural',
    'vif',
]


def _per_triple(c: Convention) -> dict:
    """Metric name -> function of one (F, IR, VI) plane triple."""
    return {
        'EN': lambda f, a, b: information.entropy(f),
        'SD': lambda f, a, b: statistics.standard_deviation(f),
        'SF': lambda f, a, b: statistics.spatial_frequency(f, c.sf_normalisation),
        'AG': lambda f, a, b: statistics.average_gradient(f, c.ag_denominator),
        'MI': information.fusion_mi,
        'SCD': scd.scd,
        'VIF': lambda f, a, b: vif.fusion_vif(f, a, b, c.vif_reduce),
        'Qabf': qabf.qabf,
        'SSIM': lambda f, a, b: structural.fusion_ssim(f, a, b, c.ssim_window),
        'MS_SSIM': structural.fusion_ms_ssim,
    }


def compute_all(fused, ir, visible, convention: str | Convention = 'vifb',
                metrics: tuple[str, ...] | list[str] | None = None) -> dict[str, float]:
    """
    Every requested metric (default: all of ``METRICS``) of one fused image.

    Raises ValueError/TypeError with a readable message on bad input (shape,
    size mismatch, non-numeric, unknown metric or convention).  A metric that
    the image is too small for (MS-SSIM needs 161 px a side, VIF 33) comes
    back as NaN with a warning, so the others are still reported.
    """
    c = get_convention(convention)
    wanted = tuple(METRICS if metrics is None else metrics)
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    triples = channel_triples(fused, ir, visible, c.per_channel)
    funcs = _per_triple(c)
    out: dict[str, float] = {}
    for name in wanted:
        try:
            if name == 'DeltaE':
                out[name] = color.delta_e(fused, visible)
            elif name == 'SF' and c.sf_side_by_side and len(triples) > 1:
                planes = np.concatenate([t[0] for t in triples], axis=1)
                out[name] = statistics.spatial_frequency(planes, c.sf_normalisation)
            else:
                out[name] = float(np.mean([funcs[name](*t) for t in triples]))
        except ValueError as exc:
            if 'needs' not in str(exc):
                raise
            warnings.warn(f'{name} not computed: {exc}', stacklevel=2)
            out[name] = float('nan')
    return out
