#!/usr/bin/env bash
# Build (or refresh) .venv-distro: the runtime and calibration dependencies at
# the versions a ROS 2 distro and JetPack 6 provide (requirements/distro.txt,
# fully pinned by requirements/distro-constraints.txt), on Python 3.10 where
# one is found (Ubuntu 22.04, Humble and JetPack 6 have 3.10), plus the
# ros-kilted-* wheels for rclpy. scripts/test.sh runs the runtime, calibration
# and bag tests in it a second time.
#
#   scripts/distro_venv.sh          build or refresh (a stamp skips an unchanged venv)
#   SSVIF_DISTRO_VENV=DIR           venv folder (default .venv-distro)
#   DISTRO_PYTHON=/path/python3.10  interpreter (default: the first Python 3.10 found)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SSVIF_DISTRO_VENV:-.venv-distro}"

is_py310() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }
find_python() {
  local c
  for c in "${DISTRO_PYTHON:-}" python3.10 /usr/bin/python3.10 \
           "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if is_py310 "$c"; then echo "$c"; return; fi
  done
  echo "distro_venv.sh: no Python 3.10 found; using python3 (syntax is still checked by test_lint)" >&2
  echo python3
}

stamp="$venv/.ssvif-distro"
want="$(cat requirements/distro.txt requirements/distro-constraints.txt requirements/ros-wheels.txt \
        | sha256sum | cut -c1-16)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "distro_venv.sh: $venv is up to date ($("$venv/bin/python" -V))"
  exit 0
fi
start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
  "$(find_python)" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install --quiet -c requirements/distro-constraints.txt \
    -r requirements/distro.txt -r requirements/ros-wheels.txt
# The project itself is not installed: its tests run from the source tree.
echo "$want" > "$stamp"
echo "distro_venv.sh: built $venv ($("$venv/bin/python" -V)) in $(( $(date +%s) - start )) s"
