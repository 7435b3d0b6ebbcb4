#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and TensorRT: build the TensorRT engines
# (FP16 and FP32) with ssvif_build_engine, check both against the CPU output
# and time CPU / CUDA / TensorRT. Elsewhere it prints "skipped: <reason>" and
# exits 0. Unverified until run on such a machine (none in this project's CI).
#
#   scripts/gpu_check.sh [--model model.onnx] [--size 640x480] [--frames 50]
#
# Without --model a model is exported first (needs torch: the full profile).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${SSVIF_VENV:-.venv}/bin/python"
[ -x "$py" ] || py=python3
exec "$py" scripts/gpu_check.py "$@"
