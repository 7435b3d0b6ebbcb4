"""Reading and writing rosbag2 files (sqlite3 or mcap) with ``rosbags``.

rosbag2_py needs a ROS installation; ``rosbags`` reads and writes the same
files in pure Python, so bag tools work on any machine.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

STORAGES = ("sqlite3", "mcap")


class BagError(ValueError):
    """A bag is missing, unreadable, or lacks the topics asked for."""


def typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def iter_raw(path: str | Path, topics: list[str] | None = None) -> Iterator[tuple[str, str, int, bytes]]:
    """(topic, msgtype, log time ns, CDR bytes) in log-time order."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise BagError(f"bag not found: {path}")
    try:
        with AnyReader([path], default_typestore=typestore()) as reader:
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            if topics:
                missing = sorted(set(topics) - {c.topic for c in conns})
                if missing:
                    have = ", ".join(sorted({c.topic for c in reader.connections}))
                    raise BagError(f"{path.name} has no topic {', '.join(missing)} (it has: {have})")
            for conn, t, raw in reader.messages(connections=conns):
                yield conn.topic, conn.msgtype, int(t), bytes(raw)
    except BagError:
        raise
    except Exception as exc:  # rosbags raises several reader errors for corrupt files
        raise BagError(f"cannot read bag {path}: {exc}") from None


def iter_messages(path: str | Path, topics: list[str] | None = None):
    """(topic, log time ns, deserialized rosbags message) in log-time order."""
    ts = typestore()
    for topic, msgtype, t, raw in iter_raw(path, topics):
        yield topic, t, ts.deserialize_cdr(raw, msgtype)


def storage_of(path: str | Path) -> str:
    p = Path(path)
    files = list(p.glob("*.mcap")) if p.is_dir() else []
    return "mcap" if files or p.suffix == ".mcap" else "sqlite3"


class BagWriter:
    """Thin context manager around rosbags' Writer with a ROS 2 typestore."""

    def __init__(self, path: str | Path, storage: str = "sqlite3"):
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise BagError(f"storage must be one of {STORAGES}, got {storage!r}")
        path = Path(path)
        if path.exists():
            raise BagError(f"output bag already exists: {path}")
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.typestore = typestore()
        self._writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        self._conns: dict[str, object] = {}

    def __enter__(self) -> "BagWriter":
        self._writer.open()
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()

    def msg_class(self, msgtype: str):
        return self.typestore.types[msgtype]

    def write(self, topic: str, msgtype: str, t_ns: int, msg) -> None:
        if topic not in self._conns:
            self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
        self._writer.write(self._conns[topic], int(t_ns), self.typestore.serialize_cdr(msg, msgtype))

    def write_raw(self, topic: str, msgtype: str, t_ns: int, raw: bytes) -> None:
        if topic not in self._conns:
            self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
        self._writer.write(self._conns[topic], int(t_ns), raw)

    def empty_image(self, header):
        Image = self.msg_class("sensor_msgs/msg/Image")
        return Image(header=header, height=0, width=0, encoding="", is_bigendian=0, step=0,
                     data=np.empty(0, np.uint8))


def as_bag_image(msg):
    """rosbags serializes uint8[] from numpy arrays only."""
    if not isinstance(msg.data, np.ndarray):
        msg.data = np.frombuffer(msg.data, dtype=np.uint8)
    return msg
