#!/usr/bin/env bash
# One-off mechanical fix of the code base for the ament lint tests, then the
# count of what is left to fix by hand (see scripts/lint_fix.py). Afterwards
# set AMENT_LINT_ENFORCED = True in test/test_lint.py.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${SSVIF_VENV:-.venv}/bin/python"
"$py" scripts/lint_fix.py all "$@"
"$py" scripts/lint_count.py
