"""Where calibration images come from: two folders paired by file stem, or
a rosbag2 (sqlite3 / mcap) with synchronised RGB + thermal topics."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from calibration.intrinsics import CalibrationError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm"}


def load_image(path: str | Path) -> np.ndarray:
    """Colour as RGB uint8, grey in its own depth (16-bit thermal kept)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CalibrationError(f"cannot read image {path}")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def list_images(folder: str | Path) -> dict[str, Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError(f"not a folder: {folder}")
    files = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS}
    if not files:
        raise CalibrationError(f"no images in {folder}")
    return files


def paired_files(visible_dir, thermal_dir) -> list[tuple[str, Path, Path]]:
    v, t = list_images(visible_dir), list_images(thermal_dir)
    names = sorted(set(v) & set(t))
    if not names:
        raise CalibrationError(f"no file stems in common between {visible_dir} and {thermal_dir}")
    return [(n, v[n], t[n]) for n in names]


def check_sizes(images: list[np.ndarray], what: str) -> tuple[int, int]:
    sizes = {(im.shape[1], im.shape[0]) for im in images}
    if len(sizes) != 1:
        raise CalibrationError(f"{what} images have mixed sizes {sorted(sizes)}; one camera gives one size")
    return sizes.pop()


def read_bag_pairs(path, rgb_topic="/rgb/image_raw", thermal_topic="/thermal/image_raw", max_dt=0.02):
    """Yield (name, visible RGB, thermal) for message pairs closer than max_dt seconds."""
    from rosbags.highlevel import AnyReader

    from ros2_ssvif.image_codec import ImageDecodeError, image_to_array

    path = Path(path)
    if not path.exists():
        raise CalibrationError(f"bag not found: {path}")
    try:
        reader = AnyReader([path])
        reader.open()
    except Exception as exc:  # rosbags raises several unrelated types
        raise CalibrationError(f"cannot open bag {path}: {exc}") from None
    try:
        topics = {c.topic for c in reader.connections}
        for tp in (rgb_topic, thermal_topic):
            if tp not in topics:
                raise CalibrationError(f"topic {tp} not in bag {path} (has: {', '.join(sorted(topics))})")
        conns = [c for c in reader.connections if c.topic in (rgb_topic, thermal_topic)]
        last = {rgb_topic: None, thermal_topic: None}
        k = 0
        for conn, _, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            try:
                last[conn.topic] = (stamp, image_to_array(msg))
            except ImageDecodeError as exc:
                raise CalibrationError(f"{conn.topic}: {exc}") from None
            a, b = last[rgb_topic], last[thermal_topic]
            if a is not None and b is not None and abs(a[0] - b[0]) <= max_dt:
                vis = a[1] if a[1].ndim == 3 else cv2.cvtColor(a[1], cv2.COLOR_GRAY2RGB)
                yield f"frame_{k:05d}", vis, b[1]
                k += 1
                last = {rgb_topic: None, thermal_topic: None}
    finally:
        reader.close()
