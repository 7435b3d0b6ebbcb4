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
Colour fidelity: mean CIEDE2000 colour difference between F and the visible image.

scikit-image does the work: ``rgb2lab`` (sRGB, D65) and
``deltaE_ciede2000`` (Sharma et al. 2005, kL = kC = kH = 1).  The mean over
pixels is reported; lower is better, 0 means the fused image keeps the
visible colours exactly.  Only the visible image carries colour, so IR takes
no part.  A grayscale image is replicated to three channels first.
"""
from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from ._images import as_image, same_size


def _rgb01(img, name: str) -> np.ndarray:
    x = as_image(img, name)
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    if x.min() < 0 or x.max() > 255:
        raise ValueError(f'{name}: expected values in 0-255, got {x.min():g}..{x.max():g}')
    return x / 255.0


def delta_e(fused, visible) -> float:
    """Mean CIEDE2000 difference between ``fused`` and ``visible`` (RGB, 0-255)."""
    f, v = _rgb01(fused, 'fused'), _rgb01(visible, 'visible')
    same_size(('fused', f), ('visible', v))
    return float(np.mean(deltaE_ciede2000(rgb2lab(v), rgb2lab(f))))
