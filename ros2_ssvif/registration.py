"""The registration file format, and applying it to raw frames.

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
import yaml

from ros2_ssvif.camera_info import CameraInfo, CameraInfoError

FORMAT_NAME = "ros2_ssvif/registration"
FORMAT_VERSION = 1


class RegistrationError(ValueError):
    """A registration file is missing, corrupt, or does not fit the input."""


def _project_normalized(xy: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """Normalized undistorted coordinates (N,2) -> raw distorted pixels (N,2)."""
    pts = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 1, 2)
    if cam.distortion_model == "equidistant":
        out = cv2.fisheye.distortPoints(pts, cam.camera_matrix, cam.distortion_coefficients[:4])
        return out.reshape(-1, 2)
    obj = np.concatenate([pts.reshape(-1, 2), np.ones((pts.shape[0], 1))], axis=1).reshape(-1, 1, 3)
    out, _ = cv2.projectPoints(obj, np.zeros(3), np.zeros(3), cam.camera_matrix, cam.distortion_coefficients)
    return out.reshape(-1, 2)


def undistort_pixels(points: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """Raw (distorted) pixels (N,2) -> undistorted pixels of the same K (N,2)."""
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 1, 2)
    if cam.distortion_model == "equidistant":
        out = cv2.fisheye.undistortPoints(pts, cam.camera_matrix, cam.distortion_coefficients[:4], P=cam.camera_matrix)
    else:
        out = cv2.undistortPoints(
            pts, cam.camera_matrix, cam.distortion_coefficients, P=cam.camera_matrix,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9),
        )
    return out.reshape(-1, 2)


def distort_pixels(points: np.ndarray, cam: CameraInfo) -> np.ndarray:
    """Undistorted pixels of the same K (N,2) -> raw distorted pixels (N,2)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    kinv = np.linalg.inv(cam.camera_matrix)
    xy = (np.c_[pts, np.ones(len(pts))] @ kinv.T)[:, :2]
    return _project_normalized(xy, cam)


def apply_homography(H: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ph = np.c_[pts, np.ones(len(pts))] @ np.asarray(H, dtype=np.float64).T
    return ph[:, :2] / ph[:, 2:3]


@dataclass
class Registration:
    """Everything needed to register a raw pair; see the module docstring.

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
        self.homography = np.asarray(self.homography, dtype=np.float64).reshape(3, 3)
        if not np.all(np.isfinite(self.homography)) or abs(np.linalg.det(self.homography)) < 1e-12:
            raise RegistrationError("homography is singular or not finite")
        self.homography = self.homography / self.homography[2, 2]
        x, y, w, h = (float(v) for v in self.crop)
        if w <= 1 or h <= 1:
            raise RegistrationError(f"crop must have a positive size, got {w}x{h}")
        self.crop = (x, y, w, h)
        ow, oh = (int(v) for v in self.output_size)
        if ow <= 0 or oh <= 0:
            raise RegistrationError(f"output size must be positive, got {ow}x{oh}")
        self.output_size = (ow, oh)

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
    def build_maps(self) -> "RegistrationMaps":
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
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "output": {"width": self.output_size[0], "height": self.output_size[1]},
            "crop": {"x": self.crop[0], "y": self.crop[1], "width": self.crop[2], "height": self.crop[3]},
            "homography_thermal_to_visible": [float(v) for v in self.homography.ravel()],
            "visible": self.visible.to_dict(),
            "thermal": self.thermal.to_dict(),
            "info": _plain(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Registration":
        if not isinstance(d, dict) or d.get("format") != FORMAT_NAME:
            raise RegistrationError(f"not a {FORMAT_NAME} file (format key is {d.get('format') if isinstance(d, dict) else None!r})")
        if int(d.get("version", -1)) != FORMAT_VERSION:
            raise RegistrationError(f"unsupported registration version {d.get('version')!r}; this build reads {FORMAT_VERSION}")
        try:
            return cls(
                visible=CameraInfo.from_dict(d["visible"]),
                thermal=CameraInfo.from_dict(d["thermal"]),
                homography=np.asarray(d["homography_thermal_to_visible"], dtype=np.float64).reshape(3, 3),
                crop=(d["crop"]["x"], d["crop"]["y"], d["crop"]["width"], d["crop"]["height"]),
                output_size=(d["output"]["width"], d["output"]["height"]),
                info=dict(d.get("info") or {}),
            )
        except (KeyError, TypeError, ValueError, CameraInfoError) as exc:
            if isinstance(exc, RegistrationError):
                raise
            raise RegistrationError(f"malformed registration file: {exc}") from None

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        tmp.replace(path)


def load_registration(path: str | Path) -> Registration:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RegistrationError(f"registration file not found: {path}") from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RegistrationError(f"cannot read registration file {path}: {exc}") from None
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

    @property
    def output_size(self) -> tuple[int, int]:
        return self.registration.output_size

    def _check(self, img: np.ndarray, cam: CameraInfo, what: str) -> None:
        if img.shape[1] != cam.width or img.shape[0] != cam.height:
            raise RegistrationError(
                f"{what} image is {img.shape[1]}x{img.shape[0]} but the calibration is for {cam.width}x{cam.height}"
            )

    def register_visible(self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        self._check(img, self.registration.visible, "visible")
        return cv2.remap(img, *self._vis, interpolation, borderMode=cv2.BORDER_CONSTANT)

    def register_thermal(self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        self._check(img, self.registration.thermal, "thermal")
        return cv2.remap(img, *self._th, interpolation, borderMode=cv2.BORDER_CONSTANT)

    def register_pair(self, visible: np.ndarray, thermal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.register_visible(visible), self.register_thermal(thermal)

    def register_label(self, label: np.ndarray) -> np.ndarray:
        """Labels live in the visible frame; nearest neighbour keeps ids intact."""
        return self.register_visible(label, cv2.INTER_NEAREST)


def register_pair_per_frame(reg: Registration, visible: np.ndarray, thermal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The textbook per-frame path (undistort, warp, crop, resize).

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
    """For inputs that are already registered (e.g. FMB-style recordings).

    A thermal frame of another resolution but the same aspect ratio is
    resized to the visible frame's size; any other mismatch is an error,
    since stretching would misalign the pair.
    """

    def register_pair(self, visible: np.ndarray, thermal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = visible.shape[:2]
        th, tw = thermal.shape[:2]
        if (th, tw) != (h, w):
            if abs(tw / th - w / h) > 0.01 * (w / h):
                raise RegistrationError(
                    f"thermal {tw}x{th} and visible {w}x{h} differ in aspect ratio and no registration_file is set")
            thermal = cv2.resize(thermal, (w, h), interpolation=cv2.INTER_LINEAR)
        return visible, thermal

    def register_label(self, label: np.ndarray) -> np.ndarray:
        return label
