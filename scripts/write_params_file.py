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
Write config/fusion.yaml from the config dataclass (ros2_ssvif/config.py).

    python scripts/write_params_file.py            # after adding or changing a parameter
    python scripts/write_params_file.py --check    # exit 1 and name the keys if it is stale

Why a generated file: the dataclass is the one home of every parameter
(default, description, range, part); the params file users copy and edit
is its rendering, so the two cannot drift (``test/test_param_files.py``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys


REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = REPO / 'config' / 'fusion.yaml'


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--check', action='store_true', help='only check; exit 1 when stale')
    args = ap.parse_args(argv)
    from ros2_ssvif.param_files import render_params_file, stale_keys

    if args.check:
        stale = stale_keys(PARAMS_FILE)
        if stale:
            print(f'write_params_file: {PARAMS_FILE} is stale ({", ".join(stale)}); run '
                  'python scripts/write_params_file.py', file=sys.stderr)
            return 1
        return 0
    PARAMS_FILE.write_text(render_params_file())
    print(f'write_params_file: wrote {PARAMS_FILE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
