# Copyright 2026 ros2_ssvif contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
camera_info YAML in the camera_calibration_parsers format.

The files this module writes load through a camera driver's
``camera_info_url`` (``file:///path/visible.yaml``): the keys, the
``rows/cols/data`` matrices and the distortion model names are those of
ROS ``camera_calibration_parsers``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.safe_files import read_yaml_file
import yaml


DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'equidistant')
DISTORTION_LENGTHS = (0, 4, 5, 8, 12, 14)  # what cv2's distortion functions accept
MAX_SIDE_PX = 16384


class CameraInfoError(SsvifError, ValueError):
    """A camera_info file is missing, unreadable or inconsistent."""


@dataclass
class CameraInfo:
    """Intrinsics of one camera, as sensor_msgs/CameraInfo carries them."""

    camera_name: str
    width: int
    height: int
    camera_matrix: np.ndarray  # 3x3 K
    distortion_coefficients: np.ndarray  # D, length by model
    distortion_model: str = 'plumb_bob'
    rectification_matrix: np.ndarray = field(default_factory=lambda: np.eye(3))
    projection_matrix: np.ndarray | None = None  # 3x4 P; K|0 when None

    def __post_init__(self) -> None:
        self.camera_matrix = _matrix(self.camera_matrix, (3, 3), 'camera_matrix')
        self.distortion_coefficients = _matrix(
            self.distortion_coefficients, None, 'distortion_coefficients'
        )
        self.rectification_matrix = _matrix(
            self.rectification_matrix, (3, 3), 'rectification_matrix'
        )
        if self.projection_matrix is None:
            self.projection_matrix = np.hstack([self.camera_matrix, np.zeros((3, 1))])
        self.projection_matrix = _matrix(self.projection_matrix, (3, 4), 'projection_matrix')
        if self.distortion_model not in DISTORTION_MODELS:
            raise CameraInfoError(f'unsupported distortion model {self.distortion_model!r}')
        if self.distortion_coefficients.size not in DISTORTION_LENGTHS:
            raise CameraInfoError(
                f'distortion_coefficients: {self.distortion_coefficients.size} values; '
                f'OpenCV models take {", ".join(map(str, DISTORTION_LENGTHS))}'
            )
        for name, v in (('image_width', self.width), ('image_height', self.height)):
            integral = isinstance(v, (int, np.integer)) or (
                isinstance(v, float) and v.is_integer()
            )
            if isinstance(v, bool) or not integral:
                raise CameraInfoError(f'{name} must be an integer, got {v!r}')
        self.width, self.height = int(self.width), int(self.height)
        if not (0 < self.width <= MAX_SIDE_PX and 0 < self.height <= MAX_SIDE_PX):
            raise CameraInfoError(
                f'image size must be 1..{MAX_SIDE_PX} px per side, got {self.width}x{self.height}'
            )
        if self.camera_matrix[0, 0] <= 0 or self.camera_matrix[1, 1] <= 0:
            raise CameraInfoError('camera matrix must be finite with positive focal lengths')

    def to_dict(self) -> dict:
        def mat(a: np.ndarray) -> dict:
            a = np.atleast_2d(a)
            return {
                'rows': int(a.shape[0]),
                'cols': int(a.shape[1]),
                'data': [float(x) for x in a.ravel()],
            }

        return {
            'image_width': int(self.width),
            'image_height': int(self.height),
            'camera_name': self.camera_name,
            'camera_matrix': mat(self.camera_matrix),
            'distortion_model': self.distortion_model,
            'distortion_coefficients': mat(self.distortion_coefficients.reshape(1, -1)),
            'rectification_matrix': mat(self.rectification_matrix),
            'projection_matrix': mat(self.projection_matrix),
        }

    @classmethod
    def from_dict(cls, d: dict) -> 'CameraInfo':
        if not isinstance(d, dict):
            raise CameraInfoError(f'expected a camera_info mapping, got {d!r}')
        try:
            def arr(key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
                m = d[key]
                if not isinstance(m, dict) or not isinstance(m.get('data'), list):
                    raise CameraInfoError(f'{key}: expected rows, cols and a data list, got {m!r}')
                data = _matrix(m['data'], None, key)
                if data.size != int(m['rows']) * int(m['cols']):
                    raise CameraInfoError(f"{key}: {data.size} values for {m['rows']}x{m['cols']}")
                return data.reshape(shape) if shape else data

            return cls(
                camera_name=str(d.get('camera_name', 'camera')),
                width=d['image_width'],
                height=d['image_height'],
                camera_matrix=arr('camera_matrix', (3, 3)),
                distortion_coefficients=arr('distortion_coefficients'),
                distortion_model=str(d.get('distortion_model', 'plumb_bob')),
                rectification_matrix=arr('rectification_matrix', (3, 3))
                if 'rectification_matrix' in d
                else np.eye(3),
                projection_matrix=arr('projection_matrix', (3, 4))
                if 'projection_matrix' in d
                else None,
            )
        except CameraInfoError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CameraInfoError(f'malformed camera_info: {exc!r}') from None


def _matrix(values, shape: tuple[int, int] | None, what: str) -> np.ndarray:
    """Finite float64 values of ``shape`` (or flat), else CameraInfoError."""
    flat = np.ravel(values) if not isinstance(values, (str, bytes)) else None
    if flat is None or any(isinstance(v, (bool, np.bool_, str, bytes)) for v in flat):
        raise CameraInfoError(f'{what} must hold numbers, got {values!r}')
    try:
        a = np.asarray(flat, dtype=np.float64)
    except (TypeError, ValueError):
        raise CameraInfoError(f'{what} must hold numbers, got {values!r}') from None
    if not np.all(np.isfinite(a)):
        raise CameraInfoError(f'{what} values must be finite, got {a.tolist()}')
    if shape is not None:
        if a.size != shape[0] * shape[1]:
            raise CameraInfoError(f'{what} needs {shape[0]}x{shape[1]} values, got {a.size}')
        a = a.reshape(shape)
    return a


def save_camera_info(info: CameraInfo, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(info.to_dict(), sort_keys=False))


def load_camera_info(path: str | Path) -> CameraInfo:
    path = Path(path)
    data = read_yaml_file(path, 'camera_info file', CameraInfoError)
    if not isinstance(data, dict):
        raise CameraInfoError(f'{path} is not a camera_info YAML mapping')
    return CameraInfo.from_dict(data)


def fill_camera_info_msg(msg, camera_matrix, width: int, height: int, header=None, sequence=list):
    """
    Fill a sensor_msgs/CameraInfo (rclpy or rosbags type) for an undistorted image.

    D = 0 (plumb_bob), R = I, P = [K | 0]. ``camera_matrix`` None means
    uncalibrated: K = P = 0, as the CameraInfo message defines it.
    ``sequence`` builds the variable-length D (list for rclpy, numpy for
    rosbags).
    """
    K = (
        np.zeros((3, 3))
        if camera_matrix is None
        else np.asarray(camera_matrix, np.float64).reshape(3, 3)
    )
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(height), int(width)
    msg.distortion_model = 'plumb_bob'
    msg.d = sequence([0.0] * 5)
    msg.k = K.ravel().astype(np.float64)
    msg.r = np.eye(3).ravel()
    msg.p = np.hstack([K, np.zeros((3, 1))]).ravel().astype(np.float64)
    msg.binning_x = msg.binning_y = 0
    return msg
