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
Static checks: Python 3.10 syntax everywhere, and the ament linters of `colcon test`.

The Python 3.10 checks always run: vermin (syntax and standard-library
names newer than 3.10, e.g. ``tomllib``, ``typing.Self``, ``except*``),
ruff's parser at target version 3.10, and, where the distro venv runs a real
Python 3.10, a compile of every file with it.

The ament checks (ament_flake8 with its configuration and flake8 plugins,
ament_pep257 with the "ament" convention, ament_copyright's header rule)
run and must pass (``AMENT_LINT_ENFORCED`` below). The code base was
brought to them once by ``bash scripts/lint_fix.sh`` and hand fixes;
``scripts/lint_count.py`` counts what is left after an edit.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import subprocess
import sys

import pytest


REPO = Path(__file__).resolve().parents[1]
AMENT_LINT_ENFORCED = True  # the code base passes ament_flake8, ament_pep257, ament_copyright

_spec = importlib.util.spec_from_file_location('lint_fix', REPO / 'scripts' / 'lint_fix.py')
lint_fix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lint_fix)
LINT_PATHS = list(lint_fix.LINT_PATHS)

ament = pytest.mark.skipif(not AMENT_LINT_ENFORCED,
                           reason='ament lint not enforced yet: run scripts/lint_fix.sh, '
                                  'then set AMENT_LINT_ENFORCED = True in test/test_lint.py')


def need(module: str) -> None:
    """Skip where a dev tool is absent (a colcon workspace), but never in CI."""
    if importlib.util.find_spec(module) is None:
        if os.environ.get('CI'):
            pytest.fail(f'{module} is not installed (requirements/test.txt)')
        pytest.skip(f'{module} is not installed (requirements/test.txt)')


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)


def test_no_python_newer_than_3_10_vermin():
    need('vermin')
    vermin = Path(sys.executable).with_name('vermin')  # no `python -m vermin`
    r = subprocess.run([str(vermin), '--target=3.10-', '--violations', '--no-tips',
                        '--eval-annotations', '--no-parse-comments', *LINT_PATHS],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_syntax_newer_than_3_10_ruff():
    """The parser of ruff knows the syntax of each version (vermin's is the running Python's)."""
    need('ruff')
    r = run('-m', 'ruff', 'check', '--no-cache', '--target-version', 'py310', '--select', 'E9',
            *LINT_PATHS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_file_compiles_with_python_3_10():
    venv = Path(os.environ.get('SSVIF_DISTRO_VENV', REPO / '.venv-distro'))
    py = venv / 'bin' / 'python'
    if not py.is_file():
        if os.environ.get('CI'):
            pytest.fail(f'{venv} is missing (scripts/test.sh builds it)')
        pytest.skip(f'{venv} is missing: bash scripts/distro_venv.sh')
    files = [str(f) for f in lint_fix.python_files(LINT_PATHS)]
    code = """if True:
        import sys
        if sys.version_info[:2] != (3, 10):
            sys.exit(3)
        bad = []
        for f in sys.argv[1:]:
            try:
                compile(open(f, encoding="utf-8").read(), f, "exec")
            except SyntaxError as e:
                bad.append("%s:%s: %s" % (f, e.lineno, e.msg))
        print("\\n".join(bad))
        sys.exit(1 if bad else 0)"""
    r = subprocess.run([str(py), '-c', code, *files], capture_output=True, text=True)
    if r.returncode == 3:
        pytest.skip(f'{py} is not Python 3.10 (no 3.10 on this machine); vermin and ruff checked')
    assert r.returncode == 0, r.stdout + r.stderr


def test_license_file_is_apache_2_as_package_xml_says():
    text = ' '.join((REPO / 'LICENSE').read_text().split())
    assert text.startswith('Apache License Version 2.0, January 2004')
    assert 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION' in text
    assert 'END OF TERMS AND CONDITIONS' in text
    assert '<license>Apache-2.0</license>' in (REPO / 'package.xml').read_text()


def test_header_check_accepts_the_header_it_writes_and_nothing_less(tmp_path):
    good = '\n'.join(lint_fix.header_lines(2026)) + '\n\n"""Doc."""\n'
    assert lint_fix.has_apache_header(good)
    assert lint_fix.has_apache_header('#!/usr/bin/env python3\n' + good)
    assert not lint_fix.has_apache_header(good.replace('# Copyright 2026', '# Written 2026'))
    assert not lint_fix.has_apache_header(good.replace('implied.', 'implied'))
    f = tmp_path / 'm.py'
    f.write_text('#!/usr/bin/env python3\n"""Doc."""\nX = 1\n')
    assert lint_fix.add_headers([f], 2026) == 1 and lint_fix.add_headers([f], 2026) == 0
    text = f.read_text()
    assert text.startswith('#!/usr/bin/env python3\n\n# Copyright 2026 ros2_ssvif contributors\n')
    assert lint_fix.has_apache_header(text) and text.endswith('"""Doc."""\nX = 1\n')


@ament
def test_ament_flake8():
    need('ament_flake8')
    r = run('-c', 'import sys; from ament_flake8.main import main; '
                  f'sys.exit(main(argv={LINT_PATHS!r}))')
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


@ament
def test_ament_pep257():
    need('ament_pep257')
    r = run('-c', 'import sys; from ament_pep257.main import main; '
                  f'sys.exit(main(argv={LINT_PATHS!r}))')
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


@ament
def test_ament_copyright():
    """ament_copyright's rule: the first comment block holds a copyright line and the licence."""
    missing = [str(f.relative_to(REPO)) for f in lint_fix.python_files(LINT_PATHS)
               if f.read_text().strip() and not lint_fix.has_apache_header(f.read_text())]
    assert not missing, f'{len(missing)} files without the Apache-2.0 header: {missing[:20]}'
