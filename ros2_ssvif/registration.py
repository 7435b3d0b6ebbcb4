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
The registration file format, and applying it to raw frames.

One file (``registration.yaml``) says how to turn a raw visible frame and a
raw thermal frame into a registered pair of the same size, the way the FMB
benchmark was built: undistort each camera, warp thermal into the visible
image plane with a homography, crop the rectangle valid in both, resize to
the output size. ``calibration`` writes this file; the node, ``process_bag``
and ``register`` read it through :func:`load_registration`.

All four steps are folded into one ``cv2.remap`` lookup per camera, computed
once, because per-frame undistort + warp costs twice the memory traffic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from ros2_ssvif.camera_info import CameraInfo, CameraInfoError
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.pixel_geometry import (  # noqa: F401  (public here too)
    apply_homography,
    distort_pixels,
    undistort_pixels,
)
from ros2_ssvif.safe_files import read_yaml_file
import yaml


FORMAT_NAME = 'ros2_ssvif/registration'
FORMAT_VERSION = 1
OUTPUT_SIZE_RANGE = (16, 8192)  # px per side: smaller is no image, larger no camera we know
# remap tables take about 100 bytes per output pixel while they are built: 16.8 MP is 1.7 GB
MAX_OUTPUT_PIXELS = 4096 * 4096
CROP_TOLERANCE_PX = 1.0  # a crop may touch the image border by rounding


class RegistrationError(SsvifError, ValueError):
    """A registration file is missing, corrupt, or does not fit the input."""


@dataclass
class Registration:
    """
    Everything needed to register a raw pair; see the module docstring.

    ``homography`` maps undistorted thermal pixels to undistorted visible
    pixels. ``crop`` is (x, y, width, height) in undistorted visible pixels;
    it is resized to ``output_size`` (width, height).
    """

    visible: CameraInfo
    thermal: CameraInfo
    homography: np.ndarray
    crop: tuple[float, float, float, float]
    output_size: tuple[int, int]
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.homography = _homography(self.homography)
        x, y, w, h = (
            _number(v, f'crop {k}') for k, v in zip(('x', 'y', 'width', 'height'), self.crop)
        )
        if w <= 1 or h <= 1:
            raise RegistrationError(f'crop must have a positive size, got {w}x{h}')
        vw, vh = self.visible.width, self.visible.height
        tol = CROP_TOLERANCE_PX
        if x < -tol or y < -tol or x + w > vw + tol or y + h > vh + tol:
            raise RegistrationError(
                f'crop x={x:g} y={y:g} {w:g}x{h:g} lies outside the {vw}x{vh} visible image'
            )
        self.crop = (x, y, w, h)
        ow, oh = (
            _integer(v, f'output {k}') for k, v in zip(('width', 'height'), self.output_size)
        )
        lo, hi = OUTPUT_SIZE_RANGE
        if not (lo <= ow <= hi and lo <= oh <= hi):
            raise RegistrationError(
                f'output size must be between {lo}x{lo} and {hi}x{hi}, got {ow}x{oh}'
            )
        if ow * oh > MAX_OUTPUT_PIXELS:
            raise RegistrationError(
                f'output size {ow}x{oh} = {ow * oh} pixels is more than {MAX_OUTPUT_PIXELS} '
                '(4096x4096): its remap tables would take gigabytes')
        self.output_size = (ow, oh)

    def output_camera_matrix(self) -> np.ndarray:
        """
        K of the registered (and fused) image: the visible K through crop and resize.

        The output is undistorted (D = 0): output = S @ K_visible @ (x/z, y/z, 1)
        with S the crop-and-resize affine of :meth:`visible_undistorted_to_output`.
        """
        x, y, w, h = self.crop
        ow, oh = self.output_size
        sx, sy = ow / w, oh / h
        S = np.array(
            [[sx, 0.0, (0.5 - x) * sx - 0.5], [0.0, sy, (0.5 - y) * sy - 0.5], [0.0, 0.0, 1.0]]
        )
        return S @ self.visible.camera_matrix

    # -- coordinates -------------------------------------------------------
    def output_to_visible_undistorted(self, uv: np.ndarray) -> np.ndarray:
        """Output pixel coordinates -> undistorted visible pixel coordinates."""
        x, y, w, h = self.crop
        ow, oh = self.output_size
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        # pixel centres: output pixel u covers [u-0.5, u+0.5]
        return np.c_[x + (uv[:, 0] + 0.5) * w / ow - 0.5, y + (uv[:, 1] + 0.5) * h / oh - 0.5]

    def visible_undistorted_to_output(self, p: np.ndarray) -> np.ndarray:
        x, y, w, h = self.crop
        ow, oh = self.output_size
        p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
        return np.c_[(p[:, 0] - x + 0.5) * ow / w - 0.5, (p[:, 1] - y + 0.5) * oh / h - 0.5]

    def visible_raw_to_output(self, points: np.ndarray) -> np.ndarray:
        """Where raw visible pixels land in the registered output."""
        return self.visible_undistorted_to_output(undistort_pixels(points, self.visible))

    def thermal_raw_to_output(self, points: np.ndarray) -> np.ndarray:
        """Where raw thermal pixels land in the registered output."""
        und = undistort_pixels(points, self.thermal)
        return self.visible_undistorted_to_output(apply_homography(self.homography, und))

    # -- maps --------------------------------------------------------------
    def build_maps(self) -> 'RegistrationMaps':
        ow, oh = self.output_size
        u, v = np.meshgrid(np.arange(ow, dtype=np.float64), np.arange(oh, dtype=np.float64))
        p = self.output_to_visible_undistorted(np.c_[u.ravel(), v.ravel()])
        vis = distort_pixels(p, self.visible).reshape(oh, ow, 2).astype(np.float32)
        q = apply_homography(np.linalg.inv(self.homography), p)
        th = distort_pixels(q, self.thermal).reshape(oh, ow, 2).astype(np.float32)
        vis1, vis2 = cv2.convertMaps(vis, None, cv2.CV_16SC2)
        th1, th2 = cv2.convertMaps(th, None, cv2.CV_16SC2)
        return RegistrationMaps(self, (vis1, vis2), (th1, th2), vis, th)

    # -- file --------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            'format': FORMAT_NAME,
            'version': FORMAT_VERSION,
            'output': {'width': self.output_size[0], 'height': self.output_size[1]},
            'crop': {
                'x': self.crop[0],
                'y': self.crop[1],
                'width': self.crop[2],
                'height': self.crop[3],
            },
            'homography_thermal_to_visible': [float(v) for v in self.homography.ravel()],
            'visible': self.visible.to_dict(),
            'thermal': self.thermal.to_dict(),
            'info': _plain(self.info),
        }

    @classmethod
    def from_dict(cls, d) -> 'Registration':
        """Check every field's type and value; any problem is one RegistrationError line."""
        if not isinstance(d, dict) or d.get('format') != FORMAT_NAME:
            found = d.get('format') if isinstance(d, dict) else type(d).__name__
            raise RegistrationError(f'not a {FORMAT_NAME} file (format key is {found!r})')
        version = d.get('version')
        if isinstance(version, bool) or not isinstance(version, int) or version != FORMAT_VERSION:
            raise RegistrationError(f'unsupported registration version {version!r}; '
                                    f'this build reads version {FORMAT_VERSION}')
        cams = {}
        for key in ('visible', 'thermal'):
            if not isinstance(d.get(key), dict):
                raise RegistrationError(
                    f'{key}: expected a camera_info mapping, got {d.get(key)!r}'
                )
            try:
                cams[key] = CameraInfo.from_dict(d[key])
            except CameraInfoError as exc:
                raise RegistrationError(f'{key} camera: {exc}') from None
        crop, output = _mapping(d, 'crop'), _mapping(d, 'output')
        try:
            return cls(
                visible=cams['visible'],
                thermal=cams['thermal'],
                homography=d.get('homography_thermal_to_visible'),
                crop=tuple(crop.get(k) for k in ('x', 'y', 'width', 'height')),
                output_size=(output.get('width'), output.get('height')),
                info=dict(d.get('info') or {}) if isinstance(d.get('info') or {}, dict) else {},
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, RegistrationError):
                raise
            raise RegistrationError(f'malformed registration file: {exc}') from None

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + '.tmp')
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        tmp.replace(path)


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RegistrationError(f'{what} must be a number, got {value!r}')
    if not np.isfinite(value):
        raise RegistrationError(f'{what} must be finite, got {value!r}')
    return float(value)


def _integer(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RegistrationError(f'{what} must be an integer, got {value!r}')
    return int(value)


def _mapping(d: dict, key: str) -> dict:
    if not isinstance(d.get(key), dict):
        raise RegistrationError(f'{key}: expected a mapping, got {d.get(key)!r}')
    return d[key]


def _homography(values) -> np.ndarray:
    try:
        H = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise RegistrationError(f'homography must be 9 numbers, got {values!r}') from None
    if H.size != 9:
        raise RegistrationError(f'homography must be 9 numbers (3x3), got {H.size}')
    H = H.reshape(3, 3)
    if not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12 or abs(H[2, 2]) < 1e-12:
        raise RegistrationError('homography is singular or not finite')
    return H / H[2, 2]


def load_registration(path: str | Path) -> Registration:
    data = read_yaml_file(path, 'registration file', RegistrationError)
    return Registration.from_dict(data)


def _plain(obj):
    """Make numpy values YAML-safe."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class RegistrationMaps:
    """Precomputed remap tables; call :meth:`register_pair` per frame."""

    def __init__(self, registration: Registration, vis_maps, th_maps, vis_float, th_float):
        self.registration = registration
        self._vis = vis_maps
        self._th = th_maps
        self.visible_map = vis_float  # (H,W,2) float32, raw visible pixel per output pixel
        self.thermal_map = th_float
        self.thermal_offset = (0.0, 0.0)

    def set_thermal_offset(self, dx: float, dy: float) -> None:
        """
        Take thermal from (dx, dy) output px further on: content lying there moves back.

        Composed with the remap tables, not applied per frame: the float
        table is translated once (``warpAffine`` with ``WARP_INVERSE_MAP``,
        map'(u, v) = map(u + dx, v + dy)) and converted to the fixed-point
        tables again, about 2 ms at 640x480. Output pixels whose source
        would lie outside the table get an out-of-image coordinate, so they
        are black (no thermal there) rather than smeared.
        """
        dx, dy = float(dx), float(dy)
        if (dx, dy) == (0.0, 0.0):
            shifted = self.thermal_map
        else:
            shifted = cv2.warpAffine(
                self.thermal_map, np.float32([[1, 0, dx], [0, 1, dy]]),
                (self.thermal_map.shape[1], self.thermal_map.shape[0]),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                borderValue=(-1e5, -1e5))
        self._th = cv2.convertMaps(shifted, None, cv2.CV_16SC2)
        self.thermal_offset = (dx, dy)

    @property
    def output_size(self) -> tuple[int, int]:
        return self.registration.output_size

    def output_camera_matrix(self) -> np.ndarray:
        """K of the registered image (see :meth:`Registration.output_camera_matrix`)."""
        return self.registration.output_camera_matrix()

    def _check(self, img: np.ndarray, cam: CameraInfo, what: str) -> None:
        if img.shape[1] != cam.width or img.shape[0] != cam.height:
            raise RegistrationError(
                f'{what} image is {img.shape[1]}x{img.shape[0]} but the calibration is for '
                f'{cam.width}x{cam.height}'
            )

    def register_visible(
        self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR
    ) -> np.ndarray:
        self._check(img, self.registration.visible, 'visible')
        return cv2.remap(img, *self._vis, interpolation, borderMode=cv2.BORDER_CONSTANT)

    def register_thermal(
        self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR
    ) -> np.ndarray:
        self._check(img, self.registration.thermal, 'thermal')
        return cv2.remap(img, *self._th, interpolation, borderMode=cv2.BORDER_CONSTANT)

    def register_pair(
        self, visible: np.ndarray, thermal: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.register_visible(visible), self.register_thermal(thermal)

    def register_label(self, label: np.ndarray) -> np.ndarray:
        """Labels live in the visible frame; nearest neighbour keeps ids intact."""
        return self.register_visible(label, cv2.INTER_NEAREST)


def register_pair_per_frame(
    reg: Registration, visible: np.ndarray, thermal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """
    Run the textbook per-frame path (undistort, warp, crop, resize).

    Kept as the reference the remap tables are checked and benchmarked
    against; the runtime uses :class:`RegistrationMaps`.
    """
    v, t = reg.visible, reg.thermal
    vis_u = cv2.undistort(visible, v.camera_matrix, v.distortion_coefficients)
    th_u = cv2.undistort(thermal, t.camera_matrix, t.distortion_coefficients)
    th_w = cv2.warpPerspective(th_u, reg.homography, (v.width, v.height), flags=cv2.INTER_LINEAR)
    x, y, w, h = reg.crop
    # affine crop+resize with the same pixel-centre convention as the maps
    ow, oh = reg.output_size
    sx, sy = ow / w, oh / h
    A = np.array([[sx, 0, (0.5 - x) * sx - 0.5], [0, sy, (0.5 - y) * sy - 0.5]])
    return (
        cv2.warpAffine(vis_u, A, (ow, oh), flags=cv2.INTER_LINEAR),
        cv2.warpAffine(th_w, A, (ow, oh), flags=cv2.INTER_LINEAR),
    )


class PassThroughRegistrar:
    """
    For inputs that are already registered (e.g. FMB-style recordings).

    A thermal frame of another resolution but the same aspect ratio is
    resized to the visible frame's size; any other mismatch is an error,
    since stretching would misalign the pair.
    """

    def register_pair(
        self, visible: np.ndarray, thermal: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        h, w = visible.shape[:2]
        th, tw = thermal.shape[:2]
        if (th, tw) != (h, w):
            if abs(tw / th - w / h) > 0.01 * (w / h):
                raise RegistrationError(
                    f'thermal {tw}x{th} and visible {w}x{h} differ in aspect ratio and no '
                    'registration_file is set'
                )
            thermal = cv2.resize(thermal, (w, h), interpolation=cv2.INTER_LINEAR)
        return visible, self._shift_thermal(thermal)

    def register_label(self, label: np.ndarray) -> np.ndarray:
        return label

    thermal_offset = (0.0, 0.0)

    def set_thermal_offset(self, dx: float, dy: float) -> None:
        """Translate thermal by (-dx, -dy) per frame (no tables to compose with here)."""
        self.thermal_offset = (float(dx), float(dy))

    def _shift_thermal(self, thermal: np.ndarray) -> np.ndarray:
        dx, dy = self.thermal_offset
        if (dx, dy) == (0.0, 0.0):
            return thermal
        h, w = thermal.shape[:2]
        return cv2.warpAffine(thermal, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)

    def output_camera_matrix(self) -> None:
        """Unknown without a calibration: the fused camera_info says uncalibrated (K = 0)."""
        return None
