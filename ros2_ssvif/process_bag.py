"""process_bag: run the fusion pipeline over a rosbag2 file, offline.

Reads the visible and thermal image topics, pairs them exactly as the node
does, registers, fuses and segments every pair, and writes ``fused/image``
and ``segmentation/mask`` (stamped with the visible header, logged at the
visible frame's log time) to a new bag. Nothing is dropped for speed here:
every pair is processed, and every frame that is not is counted.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from ros2_ssvif.bag_io import STORAGES, BagError, BagWriter, as_bag_image, iter_raw, storage_of, typestore
from ros2_ssvif.config import FusionConfig, load_fusion_config
from ros2_ssvif.image_codec import stamp_seconds
from ros2_ssvif.model_runner import ModelError
from ros2_ssvif.pairing import ApproximatePairer
from ros2_ssvif.pipeline import FrameError, FramePipeline
from ros2_ssvif.registration import RegistrationError
from ros2_ssvif.stats import PipelineStats

IMAGE = "sensor_msgs/msg/Image"


def process_bag(input_bag: str | Path, output_bag: str | Path, cfg: FusionConfig,
                rgb_topic: str = "/rgb/image_raw", thermal_topic: str = "/thermal/image_raw",
                fused_topic: str = "/fused/image", mask_topic: str = "/segmentation/mask",
                storage: str | None = None, copy_inputs: bool = False, progress: bool = True,
                on_result=None) -> dict:
    """Returns a summary: counts, drops by reason, latency per stage (ms).

    ``on_result(header, FrameResult)`` is called for every processed pair
    (the demo uses it for pictures).
    """
    stats = PipelineStats()
    pipeline = FramePipeline(cfg.model(), cfg.registrar(), cfg.normalizer(), stats)
    ts = typestore()
    pairs: list[tuple] = []
    pairer = ApproximatePairer(cfg.queue_size, cfg.slop, on_pair=lambda v, t: pairs.append((v, t)),
                               on_drop=lambda s, p, r: stats.drop(f"{s}_{r}"))
    storage = storage or storage_of(input_bag)
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a runtime dependency; stay usable without it
        tqdm = None
    messages = iter_raw(input_bag, [rgb_topic, thermal_topic] if not copy_inputs else None)
    first = next(messages, None)  # open and check the input before creating any output
    if first is None:
        raise BagError(f"{input_bag}: no messages on {rgb_topic} or {thermal_topic}")
    with BagWriter(output_bag, storage) as writer:
        bar = tqdm(desc="process_bag", unit="msg", disable=not progress) if tqdm else None
        for topic, msgtype, t_ns, raw in itertools.chain([first], messages):
            if bar is not None:
                bar.update(1)
            if copy_inputs:
                writer.write_raw(topic, msgtype, t_ns, raw)
            if topic not in (rgb_topic, thermal_topic):
                continue
            stream = "visible" if topic == rgb_topic else "thermal"
            stats.counts[f"{stream}_in"] += 1
            if msgtype != IMAGE:
                stats.drop(f"{stream}_not_an_image")
                continue
            msg = ts.deserialize_cdr(raw, msgtype)
            pairer.add(stream, stamp_seconds(msg.header), (t_ns, msg))
            while pairs:
                _emit(pairs.pop(0), pipeline, writer, stats, fused_topic, mask_topic, on_result)
        pairer.flush()
        while pairs:
            _emit(pairs.pop(0), pipeline, writer, stats, fused_topic, mask_topic, on_result)
        if bar is not None:
            bar.close()
    summary = stats.summary()
    summary["counts"]["pairs"] = pairer.pairs
    if stats.counts.get("visible_in", 0) == 0 or stats.counts.get("thermal_in", 0) == 0:
        summary["warning"] = f"no frames on {rgb_topic if not stats.counts.get('visible_in') else thermal_topic}"
    return summary


def _emit(pair, pipeline: FramePipeline, writer: BagWriter, stats: PipelineStats, fused_topic, mask_topic, on_result):
    (t_ns, vis), (_, thr) = pair
    stats.counts["pairs_processed"] += 1
    try:
        result = pipeline.process(vis, thr)
    except FrameError as exc:
        stats.drop(exc.reason)
        return
    fused, mask = pipeline.encode(result, vis.header, writer.empty_image(vis.header), writer.empty_image(vis.header))
    with stats.stage("publish"):
        writer.write(fused_topic, IMAGE, t_ns, as_bag_image(fused))
        writer.write(mask_topic, IMAGE, t_ns, as_bag_image(mask))
    stats.counts["published"] += 1
    if on_result is not None:
        on_result(vis.header, result)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="process_bag", description=__doc__.splitlines()[0])
    ap.add_argument("input", help="input rosbag2 (folder or .mcap/.db3)")
    ap.add_argument("output", help="output rosbag2 folder (must not exist)")
    ap.add_argument("--params", default=None, help="params file (default: the package's config/fusion.yaml)")
    ap.add_argument("--model", help="overrides model_path")
    ap.add_argument("--registration", help="overrides registration_file")
    ap.add_argument("--rgb-topic", default="/rgb/image_raw")
    ap.add_argument("--thermal-topic", default="/thermal/image_raw")
    ap.add_argument("--fused-topic", default="/fused/image")
    ap.add_argument("--mask-topic", default="/segmentation/mask")
    ap.add_argument("--storage", choices=STORAGES, help="output storage (default: same as input)")
    ap.add_argument("--copy-inputs", action="store_true", help="also copy every input message")
    ap.add_argument("--summary", help="write the summary as JSON here")
    args = ap.parse_args(argv)
    try:
        overrides = {k: v for k, v in (("model_path", args.model), ("registration_file", args.registration)) if v}
        params = Path(args.params) if args.params else default_params_file()
        cfg = load_fusion_config(params, overrides)
        summary = process_bag(args.input, args.output, cfg, args.rgb_topic, args.thermal_topic,
                              args.fused_topic, args.mask_topic, args.storage, args.copy_inputs)
    except (BagError, ModelError, RegistrationError, ValueError, OSError) as exc:
        print(f"process_bag: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(summary, indent=2)
    if args.summary:
        Path(args.summary).write_text(text)
    c = summary["counts"]
    print(f"process_bag: {c.get('visible_in', 0)} visible + {c.get('thermal_in', 0)} thermal frames in, "
          f"{c.get('pairs', 0)} pairs, {c.get('published', 0)} written, "
          f"{sum(summary['drops'].values())} frames dropped {dict(summary['drops'])}")
    return 0


def default_params_file() -> Path:
    """config/fusion.yaml from the source tree, or from the installed share dir."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "config" / "fusion.yaml",
                 Path(sys.prefix) / "share" / "ros2_ssvif" / "config" / "fusion.yaml"):
        if cand.is_file():
            return cand
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("ros2_ssvif")) / "config" / "fusion.yaml"
    except Exception:
        raise ValueError("cannot find config/fusion.yaml; pass --params") from None


if __name__ == "__main__":
    sys.exit(main())
