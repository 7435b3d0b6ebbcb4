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
Our ``vifb`` convention against VIFB's own MATLAB values.

Reference: ``ivf_vifb21/metrics/per_image_metrics_DERIVED.csv`` (12 images x
SeAFusion / SwinFusion / U2Fusion; values printed to 5 significant digits,
so a rounding error of up to 5e-4 is expected on SD, SF, AG).

SeAFusion and U2Fusion match to 1e-3 on every mapped metric.  SwinFusion
does not: even EN, a plain histogram, is off by up to 9e-3 bits while the
same code matches the other two methods to 5e-5, so the SwinFusion JPEGs in
the shared folder are not the pixels VIFB scored (re-encoded copies).  Its
measured gaps are asserted as upper bounds to catch regressions.

The default run covers three images (one with a single-channel IR); the
full 12 x 3 grid is ``-m slow``.
"""
from __future__ import annotations

import csv
from pathlib import Path
import sys

import pytest


try:
    import evaluation  # noqa: F401
except ImportError:  # editable install made before evaluation/ existed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.io import read_image  # noqa: I100 (after the import guard)
from evaluation.metrics import compute_all


# our name -> VIFB's name
VIFB_NAMES = {'EN': 'Entropy', 'SD': 'Variance', 'SF': 'Spatial_frequency', 'AG': 'Avg_gradient',
              'MI': 'Mutinf', 'Qabf': 'Qabf', 'SSIM': 'Ssim'}
TOL = 1e-3
# measured max |ours - VIFB| over the 12 SwinFusion images, rounded up
SWINFUSION_GAP = {'EN': 0.009, 'SD': 0.053, 'SF': 0.018, 'AG': 0.006, 'MI': 0.032, 'Qabf': 0.0022,
                  'SSIM': 0.0011}

IMAGES = ['carLight', 'carWhite', 'elecbike', 'kettle', 'man', 'manCar', 'manWalking', 'manlight',
          'manwithbag', 'peopleshadow', 'walking', 'walking2']
FAST = ['carWhite', 'peopleshadow', 'walking2']
METHODS = ['SeAFusion', 'SwinFusion', 'U2Fusion']


@pytest.fixture(scope='module')
def vifb(shared_data):
    root = shared_data / 'ivf_vifb21'
    table = root / 'metrics' / 'per_image_metrics_DERIVED.csv'
    if not table.is_file():
        pytest.skip(f'{table} missing')
    with table.open() as fh:
        ref = {
            (r['image'], r['method'], r['metric']): float(r['value']) for r in csv.DictReader(fh)
        }
    return root, ref


def _check(vifb, image, method):
    root, ref = vifb
    fused = read_image(root / 'fused' / method / f'{image}_{method}.jpg')
    ir, vis = read_image(root / 'IR' / f'{image}.jpg'), read_image(root / 'VI' / f'{image}.jpg')
    ours = compute_all(fused, ir, vis, 'vifb', metrics=list(VIFB_NAMES))
    bad = {}
    for name, vname in VIFB_NAMES.items():
        diff = abs(ours[name] - ref[(image, method, vname)])
        limit = SWINFUSION_GAP[name] if method == 'SwinFusion' else TOL
        if diff > limit:
            bad[name] = (ours[name], ref[(image, method, vname)], diff)
    assert not bad, f'{image}/{method}: (ours, VIFB, |diff|) {bad}'


@pytest.mark.accuracy
@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('image', FAST)
def test_vifb_subset(vifb, image, method):
    _check(vifb, image, method)


@pytest.mark.slow
@pytest.mark.accuracy
@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('image', [i for i in IMAGES if i not in FAST])
def test_vifb_full(vifb, image, method):
    _check(vifb, image, method)
