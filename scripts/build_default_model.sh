#!/usr/bin/env bash
# Rebuild models/ssvif_default.onnx and its model-card report (see models/README.md).
# Installs the pinned environment first (scripts/install.sh full); extra
# arguments go to scripts/build_default_model.py (e.g. --data, --output).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh full
source scripts/ros_env.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec "${SSVIF_VENV:-.venv}/bin/python" scripts/build_default_model.py "$@"
