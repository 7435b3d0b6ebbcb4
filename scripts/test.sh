#!/usr/bin/env bash
# Install (pinned) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh full
source scripts/ros_env.sh
exec "${SSVIF_VENV:-.venv}/bin/python" -m pytest "$@"
