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
One camera's own intrinsic captures: a folder of images, or a segment of a rosbag2.

The segment is a time segment of one topic in a rosbag2 (``BAG@START:END``,
seconds from that topic's first header stamp; either end may be left out).

FMB calibrates each sensor on its own board before the pair; on a vehicle
those captures are often a stretch of one recording, so a bag segment
names them without cutting the bag.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from calibration.errors import CalibrationError
from calibration.sources import list_images, load_image
import numpy as np


def parse_segment(text: str) -> tuple[Path, float | None, float | None]:
    """``path`` or ``path@start:end`` -> (path, start s or None, end s or None)."""
    if Path(text).exists() or '@' not in text:
        return Path(text), None, None
    path, _, span = text.rpartition('@')
    try:
        lo, hi = (float(v) if v.strip() else None for v in span.split(':'))
    except ValueError:
        raise CalibrationError(f'bad bag segment {text!r}; write BAG@START:END in seconds, '
                               f'e.g. drive@0:30 or drive@45:') from None
    if lo is not None and hi is not None and not hi > lo:
        raise CalibrationError(f'bag segment {text!r} ends before it starts')
    return Path(path), lo, hi


def _bag_images(path: Path, topic: str, start, end) -> Iterator[tuple[str, np.ndarray]]:
    from ros2_ssvif.bag_io import bag_topics, BagError, iter_messages, resolve_image_topic
    from ros2_ssvif.compressed import message_to_array
    from ros2_ssvif.image_codec import ImageDecodeError, stamp_seconds

    t0 = None
    try:  # a raw Image topic, or its image_transport /compressed topic
        topic = resolve_image_topic(bag_topics(path), topic, path.name)
        for _, _, msg in iter_messages(path, [topic]):
            s = stamp_seconds(msg.header)
            t0 = s if t0 is None else t0
            if (start is not None and s - t0 < start) or (end is not None and s - t0 > end):
                continue
            try:
                img = message_to_array(msg)
            except ImageDecodeError as exc:
                raise CalibrationError(f'{topic} at {s - t0:.3f} s: {exc}') from None
            yield f't{s - t0:09.3f}', img
    except BagError as exc:
        raise CalibrationError(str(exc)) from None


def read_intrinsic_views(source: str, topic: str) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image) of one camera's intrinsic captures from a folder or a bag segment."""
    path, start, end = parse_segment(source)
    if not path.exists():
        raise CalibrationError(f'intrinsic captures not found: {path}')
    if path.is_dir() and not (path / 'metadata.yaml').exists() and not list(path.glob('*.mcap')):
        for name, file in list_images(path).items():
            yield name, load_image(file)
        return
    yield from _bag_images(path, topic, start, end)


def is_bag(source: str) -> bool:
    path, start, end = parse_segment(source)
    return (start is not None or end is not None or path.is_file()
            or (path / 'metadata.yaml').exists())
