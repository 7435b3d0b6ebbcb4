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
Count what ament_flake8 and ament_pep257 still report, by code and by file.

Prints one summary line per linter and the files with the most findings;
the full reports go to out/lint/. Exit 0 when both are clean.
"""
from __future__ import annotations

import collections
from pathlib import Path
import re
import subprocess
import sys


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))
from lint_fix import LINT_PATHS  # noqa: E402


def main() -> int:
    out_dir = REPO / 'out' / 'lint'
    out_dir.mkdir(parents=True, exist_ok=True)
    dirty = 0
    for linter in ('ament_flake8', 'ament_pep257'):
        r = subprocess.run([sys.executable, '-c', f'import sys; from {linter}.main import main; '
                            f'sys.exit(main(argv={list(LINT_PATHS)!r}))'],
                           cwd=REPO, capture_output=True, text=True)
        text = r.stdout + r.stderr
        (out_dir / f'{linter}.txt').write_text(text)
        hits = re.findall(r'^(\S+\.py):\d+\b.*?: ([A-Z]+\d+)\b', text, re.M)
        codes = collections.Counter(code for _, code in hits)
        files = collections.Counter(f for f, _ in hits)
        dirty += len(hits)
        print(f'{linter}: {len(hits)} findings {dict(codes.most_common())}')
        print(f'  most: {dict(files.most_common(8))}  (full report: out/lint/{linter}.txt)')
    return 1 if dirty else 0


if __name__ == '__main__':
    sys.exit(main())
