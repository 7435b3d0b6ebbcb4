"""Runtime parameters: one dataclass, read from ROS params or config YAML.

``config/fusion.yaml`` (ROS 2 params-file format) holds the defaults users
edit; the node declares exactly these fields as ROS parameters, and
``process_bag`` and the demo read the same file, so the three never drift.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from ros2_ssvif.model_runner import FusionSegmenter
from ros2_ssvif.registration import PassThroughRegistrar, load_registration
from ros2_ssvif.thermal import ThermalNormalizer

QOS_CHOICES = ("sensor_data", "reliable", "system_default")


@dataclass
class FusionConfig:
    model_path: str = ""
    registration_file: str = ""  # empty: inputs are already registered
    queue_size: int = 10
    slop: float = 0.05
    camera_qos: str = "sensor_data"
    qos_depth: int = 5
    max_pending_pairs: int = 1
    thermal_normalization: str = "percentile"
    thermal_low_percentile: float = 1.0
    thermal_high_percentile: float = 99.0
    thermal_fixed_min: float = 0.0
    thermal_fixed_max: float = 65535.0
    providers: list = field(default_factory=lambda: ["cpu"])
    intra_op_threads: int = 0
    tensorrt_fp16: bool = True
    tensorrt_cache_dir: str = ""
    diagnostics_period: float = 1.0

    def __post_init__(self) -> None:
        if self.camera_qos not in QOS_CHOICES:
            raise ValueError(f"camera_qos must be one of {QOS_CHOICES}, got {self.camera_qos!r}")
        if self.queue_size < 1 or self.qos_depth < 1 or self.max_pending_pairs < 1:
            raise ValueError("queue_size, qos_depth and max_pending_pairs must be >= 1")
        self.providers = [str(p) for p in self.providers]

    @classmethod
    def from_dict(cls, d: dict) -> "FusionConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - {"use_sim_time"})
        if unknown:
            raise ValueError(f"unknown fusion parameters: {', '.join(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)

    def normalizer(self) -> ThermalNormalizer:
        return ThermalNormalizer(self.thermal_normalization, self.thermal_low_percentile,
                                 self.thermal_high_percentile, self.thermal_fixed_min, self.thermal_fixed_max)

    def registrar(self):
        if not self.registration_file:
            return PassThroughRegistrar()
        return load_registration(self.registration_file).build_maps()

    def model(self) -> FusionSegmenter:
        if not self.model_path:
            raise ValueError("model_path is empty: point it at an exported .onnx (see README, 'Export')")
        return FusionSegmenter(self.model_path, self.providers, self.intra_op_threads,
                               self.tensorrt_fp16, self.tensorrt_cache_dir)


def read_params_file(path: str | Path, node_name: str = "fusion_node") -> dict:
    """The ``ros__parameters`` of ``node_name`` (or ``/**``) in a params file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    for key in (node_name, "/" + node_name, "/**"):
        section = data.get(key)
        if isinstance(section, dict) and isinstance(section.get("ros__parameters"), dict):
            return dict(section["ros__parameters"])
    raise ValueError(f"{path} has no '{node_name}: ros__parameters:' section")


def load_fusion_config(path: str | Path, overrides: dict | None = None) -> FusionConfig:
    params = read_params_file(path)
    params.update(overrides or {})
    return FusionConfig.from_dict(params)
