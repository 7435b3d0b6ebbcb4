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
Registered, labelled synthetic captures (the simulator's street scenes) for label-needing runs.

    python scripts/make_labelled_synthetic.py --output out/synthetic_l2l --count 48 [--seed 100]

Writes raw captures (``simulation.dataset``), the rig's ground-truth
registration (``simulation.registration_truth``) as ``registration.yaml``
and registers the captures with the ``register`` command into
``OUTPUT/registered/{visible,thermal,labels}`` (``data.kind:
synthetic_folder``), the same recipe as ``scripts/build_default_model.py``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--output', type=Path, required=True)
    p.add_argument('--count', type=int, default=48)
    p.add_argument('--seed', type=int, default=100)
    args = p.parse_args(argv)
    if args.count < 1:
        print('make_labelled_synthetic: --count must be >= 1', file=sys.stderr)
        return 2
    from calibration.register_cli import main as register_main
    from simulation.dataset import write_raw_captures
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    rig = default_rig()
    out = args.output
    raw, dest = out / 'raw', out / 'registered'
    out.mkdir(parents=True, exist_ok=True)
    truth_registration(rig).save(out / 'registration.yaml')
    shutil.rmtree(raw, ignore_errors=True)
    shutil.rmtree(dest, ignore_errors=True)
    write_raw_captures(raw, rig, args.count, seed=args.seed)
    return register_main(
        [
            '--calibration',
            str(out / 'registration.yaml'),
            '--visible',
            str(raw / 'visible'),
            '--thermal',
            str(raw / 'thermal'),
            '--labels',
            str(raw / 'labels'),
            '--output',
            str(dest),
        ]
    )


if __name__ == '__main__':
    sys.exit(main())
