#!/usr/bin/env bash
# Install (pinned) and run the end-to-end demo on synthetic data:
# rig + drive -> calibrate -> train -> export -> fusion_node on the replayed bag.
# Outputs go to demo_output/ (or the folder given as first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh full
source scripts/ros_env.sh
exec "${SSVIF_VENV:-.venv}/bin/python" scripts/run_demo.py --output "${1:-demo_output}" --fresh
