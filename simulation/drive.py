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
A synthetic drive written as a real rosbag2 (sqlite3 or mcap).

The two cameras run free at different rates, as on the vehicle: each has
its own header stamps with a few milliseconds of jitter, and each message
is logged a little after its stamp (transport latency). So a consumer must
pair frames by stamp, not by arrival, exactly as with a recorded drive.
Each image gets a CameraInfo with the same header and the rig's true
intrinsics.

``thermal_bump_px`` knocks the thermal camera at ``thermal_bump_at_s``: from
that stamp on, every thermal image is translated by (dx, dy) raw thermal
pixels (a bracket that slipped), so the calibrated registration is wrong by
about that much; :func:`simulation.registration_truth.bump_in_output` says
how far that moves thermal in the registered output, the truth a
registration monitor is checked against.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np
from ros2_ssvif.image_codec import array_to_fields
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores
from simulation.renderer import SceneRenderer
from simulation.rig import default_rig, PinholeCamera, Rig
from simulation.scenario import DriveScenario
from simulation.world import CONDITIONS, SceneError


EPOCH_NS = 1_700_000_000 * 10**9  # a realistic wall-clock start (Nov 2023)
STORAGES = {'sqlite3': StoragePlugin.SQLITE3, 'mcap': StoragePlugin.MCAP}
RGB_FRAME, THERMAL_FRAME = 'visible_optical_frame', 'thermal_optical_frame'


class DriveError(SceneError):
    """The drive cannot be written as asked; the text says why."""


def frame_times(duration_s: float, hz: float, jitter_s: float, offset_s: float, rng) -> np.ndarray:
    """Jittered capture instants (s from start) of a free-running camera, strictly increasing."""
    period = 1.0 / hz
    n = int(np.floor((duration_s - offset_s) * hz - 1e-9)) + 1
    jit = (
        np.clip(rng.normal(0.0, jitter_s, n), -3 * jitter_s, 3 * jitter_s)
        if jitter_s > 0
        else np.zeros(n)
    )
    return offset_s + np.arange(n) * period + jit + (3 * jitter_s if jitter_s > 0 else 0.0)


def shift_image(img: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """Content moves by (dx, dy) px; the uncovered border repeats the edge (a camera sees on)."""
    h, w = img.shape[:2]
    return cv2.warpAffine(img, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (w, h),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _validate(duration_s, rgb_hz, thermal_hz, storage, jitter_s, conditions) -> tuple[str, ...]:
    if storage not in STORAGES:
        raise DriveError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    if not duration_s > 0:
        raise DriveError(f'duration_s must be positive, got {duration_s}')
    for name, hz in (('rgb_hz', rgb_hz), ('thermal_hz', thermal_hz)):
        if not 0 < hz <= 240:
            raise DriveError(f'{name} must be in (0, 240] Hz, got {hz}')
    if not 0 <= jitter_s < 0.1 / max(rgb_hz, thermal_hz):
        raise DriveError(f'jitter_s must be >= 0 and well under a frame period, got {jitter_s}')
    conds = (conditions,) if isinstance(conditions, str) else tuple(conditions)
    bad = [c for c in conds if c not in CONDITIONS]
    if not conds or bad:
        raise DriveError(
            f'conditions must be a non-empty choice of {", ".join(CONDITIONS)}, got {conds}'
        )
    return conds


def _header(ts, stamp_ns: int, frame_id: str):
    Header = ts.types['std_msgs/msg/Header']
    Time = ts.types['builtin_interfaces/msg/Time']
    return Header(
        stamp=Time(sec=int(stamp_ns // 10**9), nanosec=int(stamp_ns % 10**9)), frame_id=frame_id
    )


def _image_msg(ts, header, arr: np.ndarray, encoding: str):
    f = array_to_fields(arr, encoding)
    return ts.types['sensor_msgs/msg/Image'](
        header=header, height=f.height, width=f.width, encoding=f.encoding,
        is_bigendian=f.is_bigendian, step=f.step, data=np.frombuffer(f.data, np.uint8))


def _camera_info_msg(ts, header, cam: PinholeCamera):
    K = cam.K
    P = np.hstack([K, np.zeros((3, 1))])
    roi = ts.types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return ts.types['sensor_msgs/msg/CameraInfo'](
        header=header,
        height=cam.height,
        width=cam.width,
        distortion_model='plumb_bob',
        d=np.asarray(cam.dist, np.float64).copy(),
        k=K.ravel().astype(np.float64),
        r=np.eye(3).ravel(),
        p=P.ravel().astype(np.float64),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def write_drive_bag(path, rig: Rig | None = None, duration_s: float = 6.0, rgb_hz: float = 30.0,
                    thermal_hz: float = 9.0, storage: str = 'sqlite3', seed: int = 0,
                    conditions: Iterable[str] | str = ('day',), jitter_s: float = 0.003,
                    rgb_topic: str = '/rgb/image_raw', thermal_topic: str = '/thermal/image_raw',
                    progress: Callable[[int], None] | None = None,
                    thermal_bump_px: tuple[float, float] = (0.0, 0.0),
                    thermal_bump_at_s: float | None = None) -> dict:
    """
    Render a drive and write it as rosbag2 at ``path`` (which must not exist yet).

    ``conditions`` split the drive into equal consecutive parts (e.g. day then fog).
    Returns counts per topic, first/last header stamps (ns), the path and storage,
    and the bump (``thermal_bump``: px, at_s, at_stamp_ns) when there is one
    (``thermal_bump_at_s`` None: halfway).
    """
    conds = _validate(duration_s, rgb_hz, thermal_hz, storage, jitter_s, conditions)
    bump = tuple(float(v) for v in thermal_bump_px)
    if len(bump) != 2 or not all(np.isfinite(bump)) or max(abs(v) for v in bump) > 100:
        raise DriveError(
            f'thermal_bump_px must be two numbers within 100 px, got {thermal_bump_px}')
    bump_at = duration_s / 2 if thermal_bump_at_s is None else float(thermal_bump_at_s)
    bumped = bump != (0.0, 0.0)
    path = Path(path)
    if path.exists():
        raise DriveError(
            f'{path} already exists; rosbag2 writes a new directory, choose another path'
        )
    rig = rig or default_rig()
    rng = np.random.default_rng([seed, 7])
    t_rgb = frame_times(duration_s, rgb_hz, jitter_s, 0.0, rng)
    t_th = frame_times(
        duration_s, thermal_hz, jitter_s, float(rng.uniform(0.0, 1.0 / thermal_hz)), rng
    )
    # (log time, camera, index, stamp); log = stamp + transport latency
    events = [(t + float(rng.uniform(0.004, 0.012)), 'rgb', i, t) for i, t in enumerate(t_rgb)]
    events += [(t + float(rng.uniform(0.008, 0.020)), 'thermal', i, t) for i, t in enumerate(t_th)]
    events.sort()

    ts = get_typestore(Stores.ROS2_HUMBLE)
    scenario = DriveScenario(seed, duration_s=duration_s + 1.0)
    renderer = SceneRenderer(rig)
    info_topic = {rgb_topic: '/rgb/camera_info', thermal_topic: '/thermal/camera_info'}
    summary: dict = {'path': str(path), 'storage': storage, 'duration_s': float(duration_s),
                     'conditions': list(conds), 'topics': {}}
    if bumped:
        summary['thermal_bump'] = {'px': list(bump), 'at_s': bump_at,
                                   'at_stamp_ns': EPOCH_NS + int(round(bump_at * 1e9))}
    with Writer(path, version=9, storage_plugin=STORAGES[storage]) as writer:
        conns = {}
        for topic, msgtype in (
            (rgb_topic, 'sensor_msgs/msg/Image'),
            (thermal_topic, 'sensor_msgs/msg/Image'),
            ('/rgb/camera_info', 'sensor_msgs/msg/CameraInfo'),
            ('/thermal/camera_info', 'sensor_msgs/msg/CameraInfo'),
        ):
            conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            summary['topics'][topic] = {
                'msgtype': msgtype,
                'count': 0,
                'first_stamp_ns': None,
                'last_stamp_ns': None,
            }
        for log_t, cam, i, t in events:
            stamp_ns = EPOCH_NS + int(round(t * 1e9))
            log_ns = EPOCH_NS + int(round(log_t * 1e9))
            cond = conds[min(int(t / duration_s * len(conds)), len(conds) - 1)]
            scene = scenario.scene_at(min(max(t, 0.0), scenario.duration_s))
            frame_rng = np.random.default_rng([seed, 0 if cam == 'rgb' else 1, i])
            if cam == 'rgb':
                arr, _, _ = renderer.render_visible(scene, cond, frame_rng)
                header = _header(ts, stamp_ns, RGB_FRAME)
                img, topic, model = _image_msg(ts, header, arr, 'rgb8'), rgb_topic, rig.visible
            else:
                arr, _, _ = renderer.render_thermal(scene, cond, frame_rng)
                if bumped and t >= bump_at:
                    arr = shift_image(arr, bump)
                header = _header(ts, stamp_ns, THERMAL_FRAME)
                img, topic, model = (
                    _image_msg(ts, header, arr, 'mono16'),
                    thermal_topic,
                    rig.thermal,
                )
            info = _camera_info_msg(ts, header, model)
            for tp, msg, mt in (
                (topic, img, 'sensor_msgs/msg/Image'),
                (info_topic[topic], info, 'sensor_msgs/msg/CameraInfo'),
            ):
                writer.write(conns[tp], log_ns, ts.serialize_cdr(msg, mt))
                rec = summary['topics'][tp]
                rec['count'] += 1
                rec['first_stamp_ns'] = (
                    stamp_ns if rec['first_stamp_ns'] is None else rec['first_stamp_ns']
                )
                rec['last_stamp_ns'] = stamp_ns
            if progress is not None:
                progress(1)
    summary['counts'] = {tp: rec['count'] for tp, rec in summary['topics'].items()}
    summary['n_frames'] = len(events)
    return summary
