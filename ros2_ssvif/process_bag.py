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
process_bag: run the fusion pipeline over a rosbag2 file, offline.

Reads the visible and thermal image topics (``sensor_msgs/Image`` or, as
drives are usually recorded, ``CompressedImage`` on ``<topic>/compressed``:
the message type decides), pairs them exactly as the node does and runs
every pair through :meth:`FramePipeline.step`, the node's own frame step.
It writes what the node publishes: ``fused/image``, ``fused/camera_info``,
``segmentation/mask``, ``segmentation/color_mask`` (``segmentation/overlay``
with ``--overlay``) stamped with the visible header and logged at the
visible frame's log time, plus ``segmentation/label_info``
(vision_msgs/LabelInfo) once at the start, and the registration monitor's
status on ``/diagnostics`` (``fusion_node: registration``, as the node
names it) after every checked pair, stamped with that pair's visible
header. Nothing is dropped for speed; every frame that does not become an
output is counted.

Messages are handed to the pairing in header-stamp order within a
``REORDER_WINDOW_S`` window of log time: a recorder may log two thermal
frames in swapped order, and the pairing (which assumes each camera in
stamp order, as a live driver sends it) would drop the late one. Frames
with a zero stamp (an unstamped driver) cannot be paired by time: they are
counted (``zero_stamp``) and named; a bag of nothing else is an error.

The output appears under its name only when complete: it is written under a
hidden temporary name and renamed at the end. Ctrl-C, SIGTERM, SIGHUP or a
corrupt input removes it (exit 130 / 143 / 129 / 2); a full disk or a bag
where nothing could be paired is an error (one line, exit 2), not an empty
bag.
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
import json
from pathlib import Path
import posixpath
import signal
import sys

import numpy as np
from ros2_ssvif.alignment import AlignmentMonitor
from ros2_ssvif.bag_io import (
    as_bag_image,
    atomic_output_dir,
    bag_topics,
    BagError,
    BagWriter,
    empty_camera_info,
    IMAGE,
    IMAGE_TYPES,
    iter_raw,
    resolve_image_topic,
    storage_of,
    STORAGES,
    typestore,
)
from ros2_ssvif.cli import run_command
from ros2_ssvif.config import FusionConfig, load_fusion_config
from ros2_ssvif.health import LEVEL_NAMES
from ros2_ssvif.image_codec import stamp_seconds
from ros2_ssvif.labels import fill_label_info, write_labels_file
from ros2_ssvif.package_files import default_params_file
from ros2_ssvif.pairing import ApproximatePairer
from ros2_ssvif.params import Configurable
from ros2_ssvif.pipeline import build_pipeline, FrameError
from ros2_ssvif.stamp_order import StampOrder
from ros2_ssvif.stats import PipelineStats


CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
LABEL_INFO = 'vision_msgs/msg/LabelInfo'
DIAGNOSTICS = 'diagnostic_msgs/msg/DiagnosticArray'
REORDER_WINDOW_S = 0.25  # log-time seconds a message waits for an older stamp logged after it


def output_topics(
    fused_topic: str = '/fused/image', mask_topic: str = '/segmentation/mask'
) -> dict:
    """Return the node's output topics, next to the fused image and the mask."""
    fused_ns, mask_ns = posixpath.dirname(fused_topic), posixpath.dirname(mask_topic)
    return {
        'fused': fused_topic,
        'camera_info': posixpath.join(fused_ns, 'camera_info'),
        'mask': mask_topic,
        'color_mask': posixpath.join(mask_ns, 'color_mask'),
        'overlay': posixpath.join(mask_ns, 'overlay'),
        'labels': posixpath.join(mask_ns, 'label_info'),
        'diagnostics': '/diagnostics',
    }


class BagSink(Configurable):
    """The pipeline's outputs as bag messages, logged at the current pair's log time."""

    config_part = 'outputs'

    @staticmethod
    def sequence(values):
        return np.asarray(values, dtype=np.float64)  # rosbags serialises numpy arrays

    def __init__(self, writer: BagWriter, topics: dict, publish_overlay: bool = False):
        self.writer, self.topics, self.t_ns = writer, topics, 0
        self.publish_overlay = publish_overlay

    def wants(self, key: str) -> bool:
        return key != 'overlay' or self.publish_overlay

    def new_message(self, key: str, header):
        return (
            empty_camera_info(self.writer, header)
            if key == 'camera_info'
            else self.writer.empty_image(header)
        )

    def publish(self, key: str, msg) -> None:
        msgtype = CAMERA_INFO if key == 'camera_info' else IMAGE
        self.writer.write(
            self.topics[key],
            msgtype,
            self.t_ns,
            msg if key == 'camera_info' else as_bag_image(msg),
        )

    def write_labels(self, class_names, t_ns: int, header) -> None:
        w = self.writer
        msg = fill_label_info(
            w.msg_class(LABEL_INFO)(header=header, class_map=[], threshold=0.0),
            class_names,
            vision_class=w.msg_class('vision_msgs/msg/VisionClass'),
        )
        w.write(self.topics['labels'], LABEL_INFO, t_ns, msg)

    def write_status(self, report, header, t_ns: int) -> None:
        """One DiagnosticArray with ``report`` (a health.StatusReport), stamped like the pair."""
        ts = self.writer.typestore
        st = ts.types['diagnostic_msgs/msg/DiagnosticStatus'](
            level=report.level, name=report.name,
            message=report.message, hardware_id='process_bag',
            values=[ts.types['diagnostic_msgs/msg/KeyValue'](key=str(k), value=str(v))
                    for k, v in report.values.items()])
        arr = ts.types[DIAGNOSTICS](header=header, status=[st])
        self.writer.write(self.topics['diagnostics'], DIAGNOSTICS, t_ns, arr)


def process_bag(input_bag: str | Path, output_bag: str | Path, cfg: FusionConfig,
                rgb_topic: str = '/rgb/image_raw', thermal_topic: str = '/thermal/image_raw',
                fused_topic: str = '/fused/image', mask_topic: str = '/segmentation/mask',
                storage: str | None = None, copy_inputs: bool = False, progress: bool = True,
                on_result=None) -> dict:
    """
    Return a summary: counts, drops by reason (frames and pairs), latency per stage (ms).

    ``on_result(header, FrameResult)`` is called for every processed pair
    (the demo uses it for pictures). Raises BagError when the input is
    unreadable or nothing could be fused; the output then does not exist.
    """
    name = Path(input_bag).name
    have = bag_topics(input_bag)
    rgb_topic = resolve_image_topic(have, rgb_topic, name)
    thermal_topic = resolve_image_topic(have, thermal_topic, name)
    if rgb_topic == thermal_topic:
        raise BagError(f'the RGB and thermal topics are the same ({rgb_topic}): '
                       'give each camera its own (--rgb-topic, --thermal-topic)')
    if Path(output_bag).exists():  # before the model loads (a TensorRT engine build takes minutes)
        raise BagError(f'output already exists: {output_bag}')
    stats = PipelineStats()
    aligner = AlignmentMonitor(prefix='fusion_node')
    aligner.configure(cfg)
    pipeline = build_pipeline(cfg, stats, aligner)
    model = pipeline.model
    ts = typestore()
    pairs: list[tuple] = []

    def on_reset(stream, jump):
        pipeline.normalizer.reset()
        aligner.time_reset()

    pairer = ApproximatePairer.from_config(cfg, on_pair=lambda v, t: pairs.append((v, t)),
                                           on_drop=lambda s, p, r: stats.frame_drop(s, r),
                                           on_reset=on_reset)
    order = StampOrder(int(REORDER_WINDOW_S * 1e9), cfg.time_jump_threshold)
    storage = storage or storage_of(input_bag)
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a runtime dependency; stay usable without it
        tqdm = None
    topics = output_topics(fused_topic, mask_topic)
    messages = iter_raw(input_bag, [rgb_topic, thermal_topic] if not copy_inputs else None)
    bar = tqdm(desc='process_bag', unit='msg', disable=not progress) if tqdm else None
    timeline: list[dict] = []
    corrections: list[dict] = []
    with (
        atomic_output_dir(output_bag) as tmp_out,
        BagWriter(tmp_out, storage) as writer,
        _closing(bar),
        _closing(messages),  # an abort closes the input bag now, not at interpreter exit
    ):
        sink = BagSink(writer, topics).configure(cfg)

        def on_correction(old, new):
            corrections.append({'stamp': round(stamp_seconds(sink_header[0]), 6),
                                'from_px': list(old), 'to_px': list(new)})

        sink_header = [None]
        pipeline.on_correction = on_correction

        def emit():
            while pairs:
                (t_ns, vis), (_, thr) = pairs.pop(0)
                sink.t_ns, sink_header[0] = t_ns, vis.header
                checks = aligner.checks
                try:
                    result = pipeline.step(vis, thr, sink)
                except FrameError:
                    continue  # counted by step under its reason
                if aligner.checks != checks:
                    report = aligner.report()
                    sink.write_status(report, vis.header, t_ns)
                    if not timeline or timeline[-1]['level'] != report.level:
                        timeline.append({'stamp': round(stamp_seconds(vis.header), 6),
                                         'level': report.level, 'message': report.message})
                if on_result is not None:
                    on_result(vis.header, result)

        def feed(items):
            for stream, stamp, t_ns, msg in items:
                pairer.add(stream, stamp, (t_ns, msg))
                emit()

        labels_written = False
        for topic, msgtype, t_ns, raw in messages:
            if bar is not None:
                bar.update(1)
            if copy_inputs:
                writer.write_raw(topic, msgtype, t_ns, raw)
            if topic not in (rgb_topic, thermal_topic):
                continue
            stream = 'visible' if topic == rgb_topic else 'thermal'
            stats.count(f'{stream}_in')
            if msgtype not in IMAGE_TYPES:
                stats.frame_drop(stream, 'not_an_image')
                continue
            try:
                msg = ts.deserialize_cdr(raw, msgtype)
            except Exception:  # a cut or garbled message: count it, read on
                stats.frame_drop(stream, 'corrupt_message')
                continue
            stamp = stamp_seconds(msg.header)
            if stamp == 0.0:  # an unstamped driver: pairing by time cannot use it
                stats.frame_drop(stream, 'zero_stamp')
                continue
            if not labels_written:
                sink.write_labels(model.class_names, t_ns, msg.header)
                labels_written = True
            feed(order.push(stamp, t_ns, (stream, stamp, t_ns, msg)))
        feed(order.flush())
        pairer.flush()
        emit()
        c = stats.counts
        if c['published'] == 0:
            zero = {st: stats.frame_drops[(st, 'zero_stamp')] for st in ('visible', 'thermal')}
            if any(zero[st] and zero[st] == c[f'{st}_in'] for st in zero):
                st = 'visible' if zero['visible'] == c['visible_in'] else 'thermal'
                raise BagError(
                    f'nothing fused from {name}: every {st} frame ({zero[st]}) has a zero header '
                    'stamp, so frames cannot be paired by time (the camera driver does not '
                    'stamp them)')
            drops = ', '.join(f'{k} {v}' for k, v in stats.drops.most_common(4)) or 'none'
            raise BagError(
                f'nothing fused from {name}: {c["visible_in"]} frames on {rgb_topic}, '
                f'{c["thermal_in"]} on {thermal_topic}, {pairer.pairs} pairs (drops: {drops})'
            )
    summary = stats.summary()
    summary['counts']['pairs'] = pairer.pairs
    report = aligner.report()
    summary['registration'] = {
        'level': LEVEL_NAMES[report.level], 'message': report.message, **report.values,
        'timeline': [{**e, 'level': LEVEL_NAMES[e['level']]} for e in timeline],
        'corrections': corrections}
    try:
        summary['labels_file'] = str(
            write_labels_file(model.path, model.class_names, model.metadata.palette)
        )
    except OSError as exc:
        summary['labels_file'] = f'not written: {exc}'
    summary['topics'] = {
        'rgb': rgb_topic,
        'thermal': thermal_topic,
        'written': [t for k, t in topics.items()
                    if (k != 'overlay' or cfg.publish_overlay)
                    and (k != 'diagnostics' or aligner.checks)],
    }
    return summary


@contextmanager
def _closing(thing):
    try:
        yield thing
    finally:
        if thing is not None:
            thing.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='process_bag', description=__doc__.strip().splitlines()[0])
    ap.add_argument('input', help='input rosbag2 (folder or .mcap/.db3)')
    ap.add_argument('output', help='output rosbag2 folder (must not exist)')
    ap.add_argument(
        '--params', default=None, help="params file (default: the package's config/fusion.yaml)"
    )
    ap.add_argument('--model', help='overrides model_path')
    ap.add_argument('--registration', help='overrides registration_file')
    ap.add_argument(
        '--rgb-topic', default='/rgb/image_raw', help='Image topic, or its /compressed topic'
    )
    ap.add_argument(
        '--thermal-topic',
        default='/thermal/image_raw',
        help='Image topic, or its /compressed topic',
    )
    ap.add_argument(
        '--fused-topic', default='/fused/image', help='fused image (camera_info next to it)'
    )
    ap.add_argument(
        '--mask-topic', default='/segmentation/mask', help='mask (color_mask, overlay next to it)'
    )
    ap.add_argument('--overlay', action='store_true', help='also write segmentation/overlay')
    ap.add_argument('--storage', choices=STORAGES, help='output storage (default: same as input)')
    ap.add_argument('--copy-inputs', action='store_true', help='also copy every input message')
    ap.add_argument('--summary', help='write the summary as JSON here')
    args = ap.parse_args(argv)
    return run_command('process_bag', lambda: _run(args), plain=True,
                       signals=(signal.SIGTERM, signal.SIGHUP),
                       interrupted=f'no output written ({args.output} does not exist)')


def _run(args) -> int:
    overrides = {
        k: v
        for k, v in (('model_path', args.model), ('registration_file', args.registration))
        if v
    }
    if args.overlay:
        overrides['publish_overlay'] = True
    params = Path(args.params) if args.params else default_params_file()
    cfg = load_fusion_config(params, overrides)
    cfg.check_files()
    summary = process_bag(args.input, args.output, cfg, args.rgb_topic, args.thermal_topic,
                          args.fused_topic, args.mask_topic, args.storage, args.copy_inputs)
    text = json.dumps(summary, indent=2)
    if args.summary:
        Path(args.summary).write_text(text)
    c = summary['counts']
    print(
        f'process_bag: {c.get("visible_in", 0)} visible + {c.get("thermal_in", 0)} thermal '
        f'frames in ({summary["topics"]["rgb"]}, {summary["topics"]["thermal"]}), '
        f'{c.get("pairs", 0)} pairs, {c.get("published", 0)} written to {args.output}; '
        f'dropped frames {summary["dropped_frames"]}, dropped pairs {summary["dropped_pairs"]}; '
        f'labels: {summary["labels_file"]}'
    )
    reg = summary['registration']
    print(f"process_bag: registration {reg['level']}: {reg['message']}")
    for stream, reasons in summary['dropped_frames'].items():
        if reasons.get('zero_stamp'):
            print(f"process_bag: warning: {reasons['zero_stamp']} {stream} frame(s) with a zero "
                  'header stamp were not used (zero_stamp): the driver does not stamp them',
                  file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
