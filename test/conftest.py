"""Shared test fixtures.

Every test process talks DDS on loopback only, in its own domain, through
the project's Fast DDS profile: set here, before anything imports rclpy.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
import sys
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_localhost.xml")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout (or $SSVIF_SHARED_DATA)."""
    env = os.environ.get("SSVIF_SHARED_DATA")
    cand = Path(env) if env else REPO.parent / "shared" / "data"
    return cand if cand.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not beside this checkout (set SSVIF_SHARED_DATA to point at it)")
    return d


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def toy_model_path(tmp_path_factory) -> Path:
    from toy_model import write_toy_model

    return write_toy_model(tmp_path_factory.mktemp("model") / "toy.onnx")
