#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with pinned versions.
#
#   scripts/install.sh            runtime + training + test dependencies (default)
#   scripts/install.sh runtime    what a vehicle needs: no torch, no training libraries
#
# Without a sourced ROS 2 distro, ROS 2 (rclpy, messages, Fast DDS) comes from
# the ros-kilted-* pip wheels. With ROS_DISTRO set, the distro's rclpy and
# messages are used and no ROS wheel is installed.
# SSVIF_VENV picks the venv folder (default .venv); PYTHON the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-full}"
venv="${SSVIF_VENV:-.venv}"
python="${PYTHON:-python3}"

case "$profile" in
  runtime) reqs=(-r requirements/runtime.txt) ;;
  full) reqs=(-r requirements/runtime.txt -r requirements/training.txt -r requirements/test.txt) ;;
  *) echo "install.sh: unknown profile '$profile' (runtime or full)" >&2; exit 2 ;;
esac
if [ -n "${ROS_DISTRO:-}" ]; then
  echo "install.sh: ROS_DISTRO=$ROS_DISTRO is sourced: using its rclpy and messages"
  venv_flags=(--system-site-packages)
else
  reqs+=(-r requirements/ros-wheels.txt)
  venv_flags=()
fi

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "${venv_flags[@]}" "$venv"
fi
stamp="$venv/.ssvif-install-$profile"
want="$(cat requirements/*.txt setup.py | sha256sum | cut -c1-16)-${ROS_DISTRO:-wheels}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install.sh: $venv is up to date ($profile)"
else
  "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  "$venv/bin/python" -m pip install --quiet -c requirements/constraints.txt "${reqs[@]}"
  "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
  echo "install.sh: installed $profile dependencies into $venv"
fi
