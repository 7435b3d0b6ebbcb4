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
The two scoring conventions, and exactly how they differ.

A fusion metric is a number only together with its convention: which
sources it is summed or averaged over, which window SSIM slides, what a
gradient is divided by.  Two are supported:

``vifb`` (default) - the VIFB benchmark's MATLAB toolbox (Zhang et al.,
CVPR-W 2020), checked against VIFB's own values
(``ivf_vifb21/metrics/per_image_metrics_DERIVED.csv``, see
``test/test_evaluation_vifb.py``):

* a colour fused image is scored per R, G, B channel and the three scores
  averaged; a grayscale source is replicated to three channels;
* images are uint8 on 0-255, computed in float64;
* EN in bits (256-bin histogram); MI = MI(F,IR) + MI(F,VI) in nats over a
  256x256 joint histogram;
* SD divides by N (population standard deviation; N-1 differs by <1e-4
  on these image sizes, below the CSV's printed precision);
* SF = sqrt(RF^2 + CF^2), each sum of squared first differences divided
  by M*N (the full pixel count, not the number of differences).  For a
  colour F, VIFB's ``[m, n] = size(img)`` folds the channels into the
  columns, so SF is *not* a per-channel average but the SF of the M x 3N
  image [R G B] placed side by side (the two seams included); we do the
  same, which is what matches VIFB's numbers;
* AG uses MATLAB ``gradient`` (central differences inside, one-sided at
  the border), sum of sqrt((gx^2+gy^2)/2) divided by (M-1)(N-1);
* SSIM = SSIM(F,IR) + SSIM(F,VI), Wang et al. 2004: 11x11 Gaussian window,
  sigma 1.5, K = (0.01, 0.03), L = 255, population (biased) moments, mean
  over the 'valid' region (no padding);
* Qabf: Xydeas-Petrovic with Sobel gradients as MATLAB ``conv2(x, h, 'same')``
  (zero padding, true convolution: the sign of the x response matters,
  because an orientation of pi/2 is assigned where it is 0),
  L=1, Tg=0.9994, kg=-15, Dg=0.5, Ta=0.9879, ka=-22, Da=0.8;
* VIF: VIFB reports VIFF (Han et al. 2013), a different metric that is not
  implemented here (and not in the reference CSV).  Our ``VIF`` is the
  pixel-domain VIF of Sheikh & Bovik with each source as reference and F
  as distorted, *averaged* over the two sources (so it stays on VIFF's
  roughly 0-1 scale), per channel;
* a grayscale F is scored against the sources' luma (BT.601, rounded);
* SCD, MS-SSIM, DeltaE are not in VIFB; they use the same definitions in
  both conventions (see their modules), SCD/MS-SSIM per channel in vifb.

Measured against VIFB (12 images; SeAFusion and U2Fusion): EN, MI, Qabf,
SSIM within 5e-5; SD, SF, AG within 5e-4 (the CSV's 5-significant-digit
rounding).  SwinFusion's shared JPEGs are not the pixels VIFB scored (EN
is off by up to 9e-3 although the same code matches the others to 5e-5);
its gaps are listed in ``test/test_evaluation_vifb.py``.

``cddfuse`` - the evaluator that CDDFuse (Zhao et al., CVPR 2023) and many
later papers ship:

* everything on grayscale: a colour image is reduced to 8-bit luma
  (ITU-R BT.601, ``cv2.COLOR_RGB2GRAY``, rounded) before scoring;
* SSIM = SSIM(F,IR) + SSIM(F,VI) with scikit-image's defaults: 7x7 uniform
  window, sample (N-1) covariances, data_range 255;
* VIF summed over the two sources: VIF(IR,F) + VIF(VI,F) (about twice the
  vifb value);
* AG divides by M*N (mean over all pixels of the np.gradient magnitude);
* SF uses the mean of each squared difference over its own count;
* EN, SD, MI, SCD, Qabf, MS-SSIM, DeltaE as in vifb (CDDFuse adds 1e-7
  inside log2 for EN, a difference below 4e-5 bits, not reproduced);
* no reference values for this convention are available here, so it is
  tested on hand-computed cases only.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Convention:
    """Switches that distinguish one metric convention from another."""

    name: str
    per_channel: bool          # colour F: score R, G, B and average (else luma)
    ssim_window: str           # "gaussian11" (Wang, 'valid') or "uniform7" (skimage default)
    vif_reduce: str            # "mean" or "sum" over the two sources
    ag_denominator: str        # "(M-1)(N-1)" or "MN"
    sf_normalisation: str      # "MN" (VIFB) or "count" (mean of each difference set)
    sf_side_by_side: bool      # colour F: SF of [R G B] side by side (VIFB quirk)


VIFB = Convention('vifb', per_channel=True, ssim_window='gaussian11', vif_reduce='mean',
                  ag_denominator='(M-1)(N-1)', sf_normalisation='MN', sf_side_by_side=True)
CDDFUSE = Convention('cddfuse', per_channel=False, ssim_window='uniform7', vif_reduce='sum',
                     ag_denominator='MN', sf_normalisation='count', sf_side_by_side=False)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (VIFB, CDDFUSE)}


def get_convention(name: str | Convention) -> Convention:
    """Look a convention up by name (``vifb`` or ``cddfuse``)."""
    if isinstance(name, Convention):
        return name
    try:
        return CONVENTIONS[str(name).lower()]
    except KeyError:
        raise ValueError(
            f'unknown convention {name!r}; choose one of: {", ".join(CONVENTIONS)}'
        ) from None
