"""camera_info YAML in the camera_calibration_parsers format.

The files this module writes load through a camera driver's
``camera_info_url`` (``file:///path/visible.yaml``): the keys, the
``rows/cols/data`` matrices and the distortion model names are those of
ROS ``camera_calibration_parsers``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

DISTORTION_MODELS = ("plumb_bob", "rational_polynomial", "equidistant")


class CameraInfoError(ValueError):
    """A camera_info file is missing, unreadable or inconsistent."""


@dataclass
class CameraInfo:
    """Intrinsics of one camera, as sensor_msgs/CameraInfo carries them."""

    camera_name: str
    width: int
    height: int
    camera_matrix: np.ndarray  # 3x3 K
    distortion_coefficients: np.ndarray  # D, length by model
    distortion_model: str = "plumb_bob"
    rectification_matrix: np.ndarray = field(default_factory=lambda: np.eye(3))
    projection_matrix: np.ndarray | None = None  # 3x4 P; K|0 when None

    def __post_init__(self) -> None:
        self.camera_matrix = np.asarray(self.camera_matrix, dtype=np.float64).reshape(3, 3)
        self.distortion_coefficients = np.asarray(self.distortion_coefficients, dtype=np.float64).ravel()
        self.rectification_matrix = np.asarray(self.rectification_matrix, dtype=np.float64).reshape(3, 3)
        if self.projection_matrix is None:
            self.projection_matrix = np.hstack([self.camera_matrix, np.zeros((3, 1))])
        self.projection_matrix = np.asarray(self.projection_matrix, dtype=np.float64).reshape(3, 4)
        if self.distortion_model not in DISTORTION_MODELS:
            raise CameraInfoError(f"unsupported distortion model {self.distortion_model!r}")
        if self.width <= 0 or self.height <= 0:
            raise CameraInfoError(f"image size must be positive, got {self.width}x{self.height}")
        if not np.all(np.isfinite(self.camera_matrix)) or self.camera_matrix[0, 0] <= 0 or self.camera_matrix[1, 1] <= 0:
            raise CameraInfoError("camera matrix must be finite with positive focal lengths")

    def to_dict(self) -> dict:
        def mat(a: np.ndarray) -> dict:
            a = np.atleast_2d(a)
            return {"rows": int(a.shape[0]), "cols": int(a.shape[1]), "data": [float(x) for x in a.ravel()]}

        return {
            "image_width": int(self.width),
            "image_height": int(self.height),
            "camera_name": self.camera_name,
            "camera_matrix": mat(self.camera_matrix),
            "distortion_model": self.distortion_model,
            "distortion_coefficients": mat(self.distortion_coefficients.reshape(1, -1)),
            "rectification_matrix": mat(self.rectification_matrix),
            "projection_matrix": mat(self.projection_matrix),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CameraInfo":
        try:
            def arr(key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
                m = d[key]
                data = np.asarray(m["data"], dtype=np.float64)
                if data.size != int(m["rows"]) * int(m["cols"]):
                    raise CameraInfoError(f"{key}: {data.size} values for {m['rows']}x{m['cols']}")
                return data.reshape(shape) if shape else data

            return cls(
                camera_name=str(d.get("camera_name", "camera")),
                width=int(d["image_width"]),
                height=int(d["image_height"]),
                camera_matrix=arr("camera_matrix", (3, 3)),
                distortion_coefficients=arr("distortion_coefficients"),
                distortion_model=str(d.get("distortion_model", "plumb_bob")),
                rectification_matrix=arr("rectification_matrix", (3, 3)) if "rectification_matrix" in d else np.eye(3),
                projection_matrix=arr("projection_matrix", (3, 4)) if "projection_matrix" in d else None,
            )
        except CameraInfoError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CameraInfoError(f"malformed camera_info: {exc!r}") from None


def save_camera_info(info: CameraInfo, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(info.to_dict(), sort_keys=False))


def load_camera_info(path: str | Path) -> CameraInfo:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CameraInfoError(f"camera_info file not found: {path}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise CameraInfoError(f"cannot read camera_info {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CameraInfoError(f"{path} is not a camera_info YAML mapping")
    return CameraInfo.from_dict(data)
