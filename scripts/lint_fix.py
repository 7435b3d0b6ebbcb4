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
Mechanical fixes for the ament lint tests (test/test_lint.py).

ament_flake8 (line length 99, google import order, single quotes through
flake8-quotes, docstrings through flake8-docstrings), ament_pep257 (the
"ament" convention: the summary starts on the second line of a multi-line
docstring) and ament_copyright (an Apache-2.0 header in every file) are the
checks a ROS 2 package runs with ``colcon test``. Most of what they report
can be fixed without judgement; this script does that and leaves the rest
(long string literals, multi-line docstring summaries) for a person:

    headers     add the Apache-2.0 copyright header where it is missing
    ruff        quotes, import order, docstring layout, small idioms (ruff --fix)
    wrap        reformat only the statements that hold a line over 99 characters
                (ruff format on that range, so the rest of a file is untouched)
    imperative  first docstring word in the imperative mood, as pydocstyle suggests
    all         the four above, in that order (scripts/lint_fix.sh runs this)

Written here rather than taken from ament_copyright (not installable from
pip) and because ruff cannot format only some lines of many files at once.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import re
import subprocess
import sys


REPO = Path(__file__).resolve().parents[1]
# Everything the lint tests check (test/test_lint.py imports this list).
LINT_PATHS = ('ros2_ssvif', 'calibration', 'training', 'evaluation', 'simulation', 'benchmarks',
              'scripts', 'test', 'launch', 'setup.py')
MAX_LINE = 99
COPYRIGHT_HOLDER = 'ros2_ssvif contributors'
APACHE_HEADER = """\
Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License."""
COPYRIGHT_LINE = re.compile(
    r'^#\s*copyright(?:\s+\(c\))?\s+\d{4}(?:-\d{4})?(?:,\s*\d{4}(?:-\d{4})?)*'
    r',?\s+\S',
    re.IGNORECASE,
)
RUFF_FIXES = ('Q000,Q001,Q002,Q003,I001,D209,D210,D213,D300,D400,D403,D415,W291,W293,W391,'
              'F401,F841,C408,C416,C420')


def python_files(paths=LINT_PATHS) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        path = REPO / p
        files += [path] if path.is_file() else sorted(path.rglob('*.py'))
    return files


def header_lines(year: int) -> list[str]:
    body = [f'Copyright {year} {COPYRIGHT_HOLDER}', ''] + APACHE_HEADER.splitlines()
    return [('# ' + line).rstrip() for line in body]


def _after_shebang_and_coding(lines: list[str]) -> int:
    i = 0
    while i < len(lines) and lines[i].startswith('#') and (
            lines[i].startswith('#!') or 'coding:' in lines[i] or 'coding=' in lines[i]):
        i += 1
    return i


def first_comment_block(text: str) -> list[str]:
    """Return the first '#' lines after a shebang/coding line and blank lines (ament's rule)."""
    lines = text.splitlines()
    i = _after_shebang_and_coding(lines)
    while i < len(lines) and not lines[i].strip():
        i += 1
    block = []
    while i < len(lines) and lines[i].startswith('#'):
        block.append(lines[i])
        i += 1
    return block


def has_apache_header(text: str) -> bool:
    """Tell whether a copyright line, then the Apache-2.0 header text, open the file."""
    block = first_comment_block(text)
    for k, line in enumerate(block):
        if COPYRIGHT_LINE.match(line):
            rest = ' '.join(' '.join(b.lstrip('#').split()) for b in block[k + 1:]).split()
            return ' '.join(APACHE_HEADER.split()) in ' '.join(rest)
    return False


def add_headers(files: list[Path], year: int) -> int:
    changed = 0
    for f in files:
        text = f.read_text()
        if not text.strip() or has_apache_header(text):
            continue
        lines = text.splitlines()
        i = _after_shebang_and_coding(lines)
        rest = lines[i:]
        while rest and not rest[0].strip():
            rest = rest[1:]
        head = lines[:i] + ([''] if i else [])
        f.write_text('\n'.join(head + header_lines(year) + [''] + rest) + '\n')
        changed += 1
    return changed


def run_ruff(files: list[Path]) -> None:
    subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--fix', '--unsafe-fixes',
                    '--exit-zero', '--quiet', '--select', RUFF_FIXES, *map(str, files)],
                   cwd=REPO, check=True)


def wrap_long_lines(files: list[Path]) -> int:
    """Run ruff format on each long line's statement alone (ruff needs column ranges)."""
    calls = 0
    for f in files:
        for _ in range(3):  # reformatting one statement can leave or move another long line
            before = f.read_text()
            lines = before.splitlines()
            longs = [i + 1 for i, line in enumerate(lines) if len(line) > MAX_LINE]
            for ln in reversed(longs):
                subprocess.run([sys.executable, '-m', 'ruff', 'format', '--no-cache', '--quiet',
                                f'--range={ln}:1-{ln}:{len(lines[ln - 1]) + 1}', str(f)],
                               cwd=REPO, check=False)
                calls += 1
            if not longs or f.read_text() == before:
                break
    return calls


def imperative_mood(files: list[Path]) -> int:
    """Replace a docstring's first word where pydocstyle (D401) names the imperative form."""
    from pydocstyle import check

    fixed = 0
    wanted = re.compile(r"perhaps '(\w+)', not '(\w+)'")
    for f in files:
        errors = [e for e in check([str(f)], select=['D401']) if hasattr(e, 'line')]
        if not errors:
            continue
        lines = f.read_text().splitlines(keepends=True)
        for e in errors:
            m = wanted.search(e.message)
            if not m:
                continue
            good, bad = m.groups()
            # the docstring starts on the definition's line or after it
            for ln in range(e.line - 1, min(e.line + 40, len(lines))):
                new = re.sub(r'("""|\'\'\')(\s*)' + re.escape(bad) + r'\b', r'\1\2' + good,
                             lines[ln], count=1)
                if new == lines[ln] and lines[ln].strip().startswith(bad + ' ') and ln > 0 \
                        and lines[ln - 1].strip() in ('"""', "'''", 'r"""'):
                    new = lines[ln].replace(bad, good, 1)
                if new != lines[ln]:
                    lines[ln] = new
                    fixed += 1
                    break
        f.write_text(''.join(lines))
    return fixed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='lint_fix', description=__doc__.strip().splitlines()[0])
    ap.add_argument('step', choices=('headers', 'ruff', 'wrap', 'imperative', 'all'))
    ap.add_argument('--year', type=int, default=2026, help='copyright year of new headers')
    ap.add_argument('paths', nargs='*', help=f"files or folders (default: {' '.join(LINT_PATHS)})")
    args = ap.parse_args(argv)
    files = python_files(args.paths or LINT_PATHS)
    if args.step in ('headers', 'all'):
        print(f'lint_fix: copyright header added to {add_headers(files, args.year)} files')
    if args.step in ('ruff', 'all'):
        run_ruff(files)
        print('lint_fix: ruff fixes applied')
    if args.step in ('wrap', 'all'):
        print(f'lint_fix: {wrap_long_lines(files)} long-line statements reformatted')
    if args.step in ('imperative', 'all'):
        print(f'lint_fix: {imperative_mood(files)} docstrings put in the imperative mood')
    return 0


if __name__ == '__main__':
    sys.exit(main())
