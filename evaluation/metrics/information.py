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
Information-theoretic metrics: entropy (EN) and mutual information (MI).

Both use 256 integer-aligned bins over 0-255 (values are rounded to the
nearest integer and clipped), which is what MATLAB's ``imhist`` does for
uint8 images.  numpy's ``bincount`` is all that is needed; scikit-image's
``shannon_entropy`` counts distinct values rather than 256 fixed bins, so
it is not used.
"""
from __future__ import annotations

import numpy as np

from ._images import as_plane, same_size


BINS = 256


def _levels(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, BINS - 1).astype(np.intp).ravel()


def _entropy_of(p: np.ndarray, log) -> float:
    p = p[p > 0]
    return float(-(p * log(p)).sum())


def entropy(img, base: float = 2.0) -> float:
    """Shannon entropy of the 256-bin grey-level histogram (bits by default)."""
    x = _levels(as_plane(img, 'image'))
    p = np.bincount(x, minlength=BINS) / x.size
    return _entropy_of(p, np.log) / np.log(base)


def mutual_information(a, b) -> float:
    """MI(a; b) in nats from the 256x256 joint histogram of two images."""
    pa, pb = as_plane(a, 'a'), as_plane(b, 'b')
    same_size(('a', pa), ('b', pb))
    xa, xb = _levels(pa), _levels(pb)
    joint = np.bincount(xa * BINS + xb, minlength=BINS * BINS).astype(np.float64) / xa.size
    joint = joint.reshape(BINS, BINS)
    h_a = _entropy_of(joint.sum(1), np.log)
    h_b = _entropy_of(joint.sum(0), np.log)
    h_ab = _entropy_of(joint.ravel(), np.log)
    return h_a + h_b - h_ab


def fusion_mi(f, ir, vis) -> float:
    """MI(F, IR) + MI(F, VI) in nats."""
    return mutual_information(f, ir) + mutual_information(f, vis)
