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
Where calibration images come from: two folders or a rosbag2.

Two folders paired by file stem, or a rosbag2 (sqlite3 / mcap) with
synchronised RGB + thermal topics.
"""
from __future__ import annotations

from pathlib import Path

from calibration.errors import CalibrationError
import cv2
import numpy as np
from ros2_ssvif.image_files import ImageFileError, ImageFolderError, images_by_stem
from ros2_ssvif.image_files import read_image_file


def load_image(path: str | Path) -> np.ndarray:
    """Colour as RGB uint8, grey in its own depth (16-bit thermal kept)."""
    if not Path(path).is_file():  # before OpenCV, which logs its own warning for a missing file
        raise CalibrationError(f'image not found: {path}')
    try:
        img = read_image_file(path)
    except ImageFileError as exc:
        raise CalibrationError(str(exc)) from None
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def list_images(folder: str | Path) -> dict[str, Path]:
    try:
        return images_by_stem(folder)
    except ImageFolderError as exc:
        raise CalibrationError(str(exc)) from None


def paired_files(visible_dir, thermal_dir) -> list[tuple[str, Path, Path]]:
    v, t = list_images(visible_dir), list_images(thermal_dir)
    names = sorted(set(v) & set(t))
    if not names:
        raise CalibrationError(f'no file stems in common between {visible_dir} and {thermal_dir}')
    return [(n, v[n], t[n]) for n in names]


def unpaired_note(visible_dir, thermal_dir) -> str | None:
    """One line naming the images without a partner of the same stem (they are not used)."""
    v, t = set(list_images(visible_dir)), set(list_images(thermal_dir))
    parts = []
    for a, b, cam, other in ((v, t, 'visible', 'thermal'), (t, v, 'thermal', 'visible')):
        alone = sorted(a - b)
        if alone:
            shown = ', '.join(alone[:3]) + (', ...' if len(alone) > 3 else '')
            parts.append(f'{len(alone)} {cam} image(s) without a {other} image of the same '
                         f'name ({shown})')
    return '; '.join(parts) + ': not used' if parts else None


def _as_rgb(arr: np.ndarray) -> np.ndarray:
    return arr if arr.ndim == 3 else cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB)


def read_bag_pairs(
    path,
    rgb_topic='/rgb/image_raw',
    thermal_topic='/thermal/image_raw',
    max_dt=0.02,
    stats: dict | None = None,
    segment: tuple[float | None, float | None] = (None, None),
):
    """
    Yield (name, visible RGB, thermal) for frames paired by header stamp.

    ``segment`` (start, end) keeps the pairs whose visible stamp lies that many
    seconds after the bag's first stamp (None: open).

    Pairing is the project's :class:`ros2_ssvif.pairing.ApproximatePairer`
    (mutual nearest neighbours within ``max_dt`` s), the same as the fusion
    node uses, so a calibration sees exactly the pairs the node would fuse.
    Frames are decoded only once paired. ``stats`` (if given) receives the
    pairer's drop counts by reason.
    """
    from ros2_ssvif.bag_io import bag_topics, BagError, iter_messages, resolve_image_topic
    from ros2_ssvif.compressed import message_to_array
    from ros2_ssvif.image_codec import ImageDecodeError, stamp_seconds

    try:  # raw Image topics, or their image_transport /compressed topics
        have = bag_topics(path)
        rgb_topic, thermal_topic = (
            resolve_image_topic(have, t, Path(path).name) for t in (rgb_topic, thermal_topic)
        )
    except BagError as exc:
        raise CalibrationError(str(exc)) from None
    from ros2_ssvif.pairing import ApproximatePairer

    ready: list[tuple] = []
    pairer = ApproximatePairer(
        queue_size=30, slop=max_dt, on_pair=lambda v, t: ready.append((v, t))
    )
    stream = {rgb_topic: 'visible', thermal_topic: 'thermal'}
    k = 0
    first: list[float] = []
    start, end = segment

    def inside(msg) -> bool:
        offset = stamp_seconds(msg.header) - first[0]
        return (start is None or offset >= start) and (end is None or offset <= end)

    def emit():
        nonlocal k
        while ready:
            v, t = ready.pop(0)
            if not inside(v[1]):
                continue
            try:
                vis, th = _as_rgb(message_to_array(v[1])), message_to_array(t[1])
            except ImageDecodeError as exc:
                raise CalibrationError(f'{v[0]} / {t[0]}: {exc}') from None
            yield f'frame_{k:05d}', vis, th
            k += 1

    try:
        for topic, _, msg in iter_messages(path, [rgb_topic, thermal_topic]):
            if not first:
                first.append(stamp_seconds(msg.header))
            pairer.add(stream[topic], stamp_seconds(msg.header), (topic, msg))
            yield from emit()
        pairer.flush()
        yield from emit()
    except BagError as exc:
        raise CalibrationError(str(exc)) from None
    if stats is not None:
        stats.update({f'{s} {r}': n for (s, r), n in pairer.dropped.items()}, pairs=pairer.pairs)
