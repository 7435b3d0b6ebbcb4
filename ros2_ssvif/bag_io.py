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
Reading and writing rosbag2 files (sqlite3 or mcap) with ``rosbags``.

rosbag2_py needs a ROS installation; ``rosbags`` reads and writes the same
files in pure Python, so bag tools work on any machine. A bag tool writes
through :func:`atomic_output_dir` under :func:`ros2_ssvif.cli.terminate_on`, so Ctrl-C,
SIGTERM and SIGHUP all leave no half-written output.
"""
from __future__ import annotations

from contextlib import contextmanager
import os
from pathlib import Path
import shutil
import sqlite3
from typing import Iterator

import numpy as np
from ros2_ssvif.errors import SsvifError


STORAGES = ('sqlite3', 'mcap')
IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE, COMPRESSED)
# vision_msgs is not installable everywhere; its two message definitions (ROS 2, vision_msgs 4.x)
# are registered with rosbags so a bag carries its own LabelInfo type description.
VISION_MSGS = {
    'vision_msgs/msg/VisionClass': 'uint16 class_id\nstring class_name\n',
    'vision_msgs/msg/LabelInfo': 'std_msgs/Header header\nvision_msgs/VisionClass[] class_map\n'
                                 'float32 threshold\n',
}


class BagError(SsvifError, ValueError):
    """A bag is missing, unreadable, or lacks the topics asked for."""


def typestore():
    """ROS 2 Kilted types plus vision_msgs' LabelInfo (written by process_bag)."""
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    ts = get_typestore(Stores.ROS2_KILTED)
    types: dict = {}
    for name, text in VISION_MSGS.items():
        if name not in ts.types:
            types.update(get_types_from_msg(text, name))
    if types:
        ts.register(types)
    return ts


def iter_raw(
    path: str | Path, topics: list[str] | None = None
) -> Iterator[tuple[str, str, int, bytes]]:
    """(topic, msgtype, log time ns, CDR bytes) in log-time order."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise BagError(f'bag not found: {path}')
    try:
        with AnyReader([path], default_typestore=typestore()) as reader:
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            if topics:
                missing = sorted(set(topics) - {c.topic for c in conns})
                if missing:
                    have = ', '.join(sorted({c.topic for c in reader.connections}))
                    raise BagError(
                        f'{path.name} has no topic {", ".join(missing)} (it has: {have})'
                    )
            for conn, t, raw in reader.messages(connections=conns):
                yield conn.topic, conn.msgtype, int(t), bytes(raw)
    except BagError:
        raise
    except Exception as exc:  # rosbags raises several reader errors for corrupt files
        raise BagError(f'cannot read bag {path}: {exc}') from None


def bag_topics(path: str | Path) -> dict[str, str]:
    """Map topic -> message type of every connection in a bag."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise BagError(f'bag not found: {path}')
    try:
        with AnyReader([path], default_typestore=typestore()) as reader:
            return {c.topic: c.msgtype for c in reader.connections}
    except Exception as exc:
        raise BagError(f'cannot read bag {path}: {exc}') from None


def resolve_image_topic(topics: dict[str, str], topic: str, bag_name: str = 'bag') -> str:
    """
    ``topic`` if the bag has it, else its image_transport ``/compressed`` topic.

    Drives are usually recorded compressed: ``--rgb-topic /rgb/image_raw``
    then finds ``/rgb/image_raw/compressed``. The message type decides how
    frames are decoded, not the name.
    """
    for cand in (topic, topic.rstrip('/') + '/compressed', topic.rstrip('/') + '/compressedDepth'):
        if cand in topics:
            if topics[cand] not in IMAGE_TYPES:
                raise BagError(f'{bag_name}: {cand} is {topics[cand]}, not an image topic')
            return cand
    raise BagError(f'{bag_name} has no topic {topic} (nor {topic}/compressed); it has: '
                   f"{', '.join(sorted(topics)) or 'nothing'}")


def iter_messages(path: str | Path, topics: list[str] | None = None):
    """(topic, log time ns, deserialized rosbags message) in log-time order."""
    ts = typestore()
    for topic, msgtype, t, raw in iter_raw(path, topics):
        yield topic, t, ts.deserialize_cdr(raw, msgtype)


def storage_of(path: str | Path) -> str:
    p = Path(path)
    files = list(p.glob('*.mcap')) if p.is_dir() else []
    return 'mcap' if files or p.suffix == '.mcap' else 'sqlite3'


class BagWriter:
    """Thin context manager around rosbags' Writer with a ROS 2 typestore."""

    def __init__(self, path: str | Path, storage: str = 'sqlite3'):
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise BagError(f'storage must be one of {STORAGES}, got {storage!r}')
        path = Path(path)
        if path.exists():
            raise BagError(f'output bag already exists: {path}')
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self.typestore = typestore()
        self._writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        self._conns: dict[str, object] = {}

    def __enter__(self) -> 'BagWriter':
        with self._errors():
            self._writer.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        with self._errors():
            self._writer.__exit__(exc_type, exc, tb)  # close, or abort after an error

    @contextmanager
    def _errors(self):
        """
        Turn a storage failure into one BagError line.

        sqlite3 reports a full disk as ``sqlite3.OperationalError: database or
        disk is full`` (not an OSError), mcap and metadata.yaml as OSError
        ENOSPC, rosbags as WriterError: all of them used to be a traceback.
        """
        from rosbags.rosbag2 import WriterError

        try:
            yield
        except (sqlite3.Error, OSError, WriterError) as exc:
            text = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
            raise BagError(f'cannot write the output bag: {text}') from None

    def msg_class(self, msgtype: str):
        return self.typestore.types[msgtype]

    def write(self, topic: str, msgtype: str, t_ns: int, msg) -> None:
        self.write_raw(topic, msgtype, t_ns, self.typestore.serialize_cdr(msg, msgtype))

    def write_raw(self, topic: str, msgtype: str, t_ns: int, raw: bytes) -> None:
        with self._errors():
            if topic not in self._conns:
                self._conns[topic] = self._writer.add_connection(
                    topic, msgtype, typestore=self.typestore
                )
            self._writer.write(self._conns[topic], int(t_ns), raw)

    def empty_image(self, header):
        Image = self.msg_class('sensor_msgs/msg/Image')
        return Image(header=header, height=0, width=0, encoding='', is_bigendian=0, step=0,
                     data=np.empty(0, np.uint8))


def empty_camera_info(writer: BagWriter, header):
    ts = writer.typestore
    roi = ts.types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return ts.types['sensor_msgs/msg/CameraInfo'](
        header=header,
        height=0,
        width=0,
        distortion_model='',
        d=np.zeros(0),
        k=np.zeros(9),
        r=np.zeros(9),
        p=np.zeros(12),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


@contextmanager
def atomic_output_dir(path: str | Path):
    """
    Yield a temporary path; on success rename it to ``path``, on any error remove it.

    A bag is readable as soon as its metadata.yaml exists, so a bag tool
    interrupted half-way must not leave its output under the final name:
    it writes into ``.<name>.partial-<pid>/<name>`` next to it (the files
    inside keep the final name) and renames at the end. Only a kill -9
    leaves that hidden, clearly marked folder behind.
    """
    path = Path(path)
    if path.exists():
        raise BagError(f'output already exists: {path}')
    holder = path.parent / f'.{path.name}.partial-{os.getpid()}'
    if holder.exists():
        shutil.rmtree(holder)
    holder.mkdir(parents=True)
    try:
        yield holder / path.name
        os.replace(holder / path.name, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def as_bag_image(msg):
    """Give ``msg.data`` as a numpy array: rosbags serializes uint8[] from numpy arrays only."""
    if not isinstance(msg.data, np.ndarray):
        msg.data = np.frombuffer(msg.data, dtype=np.uint8)
    return msg
