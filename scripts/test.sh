#!/usr/bin/env bash
# Install (pinned) and run the test suite: what CI runs (.ci/run).
#
#   scripts/test.sh              the whole suite, then the runtime, calibration and bag
#                                tests again in .venv-distro (numpy 1.26, OpenCV 4.6,
#                                ONNX Runtime 1.16, Python 3.10: scripts/distro_venv.sh)
#   scripts/test.sh ARGS...      pytest ARGS in .venv only (e.g. test/test_thermal.py -x)
#   SSVIF_DISTRO_TESTS=0         skip the distro-era pass
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh full
distro="${SSVIF_DISTRO_TESTS:-$([ $# -eq 0 ] && echo 1 || echo 0)}"
if [ "$distro" = 1 ]; then
  scripts/distro_venv.sh  # first: test/test_deploy_distro.py drives it from the main suite
fi
source scripts/ros_env.sh
rc=0
"${SSVIF_VENV:-.venv}/bin/python" -m pytest "$@" || rc=$?
if [ "$distro" = 1 ]; then
  # The runtime (ros2_ssvif), its node and bag tools, and calibration, with the
  # libraries a ROS 2 distro and JetPack 6 provide.
  shopt -s nullglob
  distro_tests=(test/test_model_and_pipeline.py test/test_image_codec.py test/test_pairing.py
                test/test_registration.py test/test_thermal.py test/test_fusion_node.py
                test/test_node_*.py test/test_deploy_tensorrt.py test/test_bag_tools.py
                test/test_bag_compressed.py test/test_bag_breakages.py
                test/test_registration_monitor.py test/test_calibration_*.py)
  echo "== distro-era pass: $("${SSVIF_DISTRO_VENV:-.venv-distro}/bin/python" -c \
    'import sys, numpy, cv2, onnxruntime as o; print("Python %d.%d" % sys.version_info[:2],
    "numpy", numpy.__version__, "OpenCV", cv2.__version__, "onnxruntime", o.__version__)')"
  distro_rc=0
  "${SSVIF_DISTRO_VENV:-.venv-distro}/bin/python" -m pytest -p no:cacheprovider \
      "${distro_tests[@]}" || distro_rc=$?
  [ "$rc" -ne 0 ] || rc=$distro_rc
fi
exit "$rc"
