# Sourced by the demo and test scripts: DDS stays on this machine.
# Loopback discovery, a domain of our own, and the project's Fast DDS
# profile (16 MiB shared memory for images, UDP on 127.0.0.1 only).
_ssvif_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( ($$ % 100) + 100 ))}"
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_ssvif_root/config/fastdds_localhost.xml}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export MPLBACKEND=Agg
