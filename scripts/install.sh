#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with pinned versions.
#
#   scripts/install.sh            runtime + training + test dependencies (default: full)
#   scripts/install.sh runtime    what a vehicle needs: no torch, no training libraries
#   scripts/install.sh jetson     JetPack 6: JetPack's numpy and OpenCV, onnxruntime-gpu
#                                 from NVIDIA's Jetson wheels (JETSON_ORT_INDEX)
#
# Without a sourced ROS 2 distro, ROS 2 (rclpy, messages, Fast DDS) comes from
# the ros-kilted-* pip wheels and numpy/OpenCV from PyPI (requirements/*.txt).
# With ROS_DISTRO set (and for jetson) the venv sees the system's packages and
# never replaces the distro's numpy, OpenCV, PyYAML or rclpy: only what the
# distro lacks is installed, with --no-deps (requirements/ros-distro.txt), and
# the result is checked. Training (full) needs numpy 2 and is refused there:
# train in a venv without ROS_DISTRO.
# SSVIF_VENV picks the venv folder (default .venv); PYTHON the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-full}"
venv="${SSVIF_VENV:-.venv}"
python="${PYTHON:-python3}"
jetson_index="${JETSON_ORT_INDEX:-https://pypi.jetson-ai-lab.io/jp6/cu126}"

system_libs=0
case "$profile" in
  runtime) reqs=(-r requirements/runtime.txt) ;;
  full) reqs=(-r requirements/runtime.txt -r requirements/training.txt -r requirements/test.txt) ;;
  jetson) system_libs=1 ;;
  *) echo "install.sh: unknown profile '$profile' (runtime, full or jetson)" >&2; exit 2 ;;
esac
if [ -n "${ROS_DISTRO:-}" ]; then
  if [ "$profile" = full ]; then
    echo "install.sh: ROS_DISTRO=$ROS_DISTRO is sourced: the full profile (training, tests) needs" \
         "numpy 2 and would replace the distro's numpy; run 'scripts/install.sh runtime' here and" \
         "train or test in a shell without a sourced distro" >&2
    exit 2
  fi
  echo "install.sh: ROS_DISTRO=$ROS_DISTRO is sourced: keeping its numpy, OpenCV, PyYAML and rclpy"
  system_libs=1
elif [ "$system_libs" = 0 ]; then
  reqs+=(-r requirements/ros-wheels.txt)
fi
venv_flags=()
[ "$system_libs" = 1 ] && venv_flags=(--system-site-packages)

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "${venv_flags[@]}" "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet)
stamp="$venv/.ssvif-install-$profile"
want="$(cat requirements/*.txt setup.py | sha256sum | cut -c1-16)-${ROS_DISTRO:-wheels}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install.sh: $venv is up to date ($profile)"
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
if [ "$system_libs" = 1 ]; then
  if [ "$profile" = jetson ]; then
    # everything but onnxruntime from ros-distro.txt, then NVIDIA's GPU build
    grep -v '^onnxruntime==' requirements/ros-distro.txt > "$venv/ssvif-jetson-reqs.txt"
    "${pip[@]}" --no-deps -r "$venv/ssvif-jetson-reqs.txt"
    "${pip[@]}" --no-deps --index-url "$jetson_index" onnxruntime-gpu
  else
    "${pip[@]}" --no-deps -r requirements/ros-distro.txt
  fi
  # the project; its build backend comes from PyPI (a distro's setuptools may lack wheel)
  "${pip[@]}" --no-deps -e .
  # The distro's libraries must be the ones imported, from outside the venv.
  "$venv/bin/python" - "$venv" "${ROS_DISTRO:-}" <<'EOF'
import importlib, os, sys
venv, distro = os.path.realpath(sys.argv[1]), sys.argv[2]
needed = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml"}
if distro:
    needed["rclpy"] = f"source /opt/ros/{distro}/setup.bash"
bad = []
for mod, fix in needed.items():
    try:
        m = importlib.import_module(mod)
    except ImportError as exc:
        bad.append(f"{mod} is missing ({exc}); install it: {fix} (or rosdep install)")
        continue
    where = os.path.realpath(getattr(m, "__file__", None) or list(m.__path__)[0])
    if where.startswith(venv + os.sep):
        bad.append(f"{mod} was installed into {venv}, over the system's: remove it there")
    else:
        print(f"install.sh: {mod} {getattr(m, '__version__', '')} from {os.path.dirname(where)}")
if bad:
    sys.exit("install.sh: " + "\ninstall.sh: ".join(bad))
EOF
else
  "${pip[@]}" -c requirements/constraints.txt "${reqs[@]}"
  "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
fi
echo "$want" > "$stamp"
echo "install.sh: installed $profile dependencies into $venv"
