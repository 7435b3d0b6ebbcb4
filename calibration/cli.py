"""``calibrate``: board images (two folders, a rosbag2 or live topics) -> registration folder."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from calibration.boards import BoardSpecError, parse_board
from calibration.intrinsics import CalibrationError
from ros2_ssvif.registration import RegistrationError


def _distance(text: str) -> float:
    if text.strip().lower() in ("inf", "infinity"):
        return float("inf")
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected metres or inf, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"plane distance must be positive, got {text!r}")
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0 or not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return v


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 4:
        raise argparse.ArgumentTypeError(f"at least 4 views are needed, got {text!r}")
    return v


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH like 800x600, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"output size must be positive, got {text!r}")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="calibrate", description="Calibrate an RGB + thermal rig into registration.yaml.")
    src = p.add_argument_group("source: two folders paired by file stem, a bag, or live topics")
    src.add_argument("--visible", help="folder of visible images")
    src.add_argument("--thermal", help="folder of thermal images (8- or 16-bit)")
    src.add_argument("--bag", help="rosbag2 folder or file (sqlite3 / mcap)")
    src.add_argument("--live", action="store_true", help="subscribe to the camera topics (needs rclpy)")
    src.add_argument("--rgb-topic", help="visible Image topic (bag: /rgb/image_raw, live: rgb/image_raw)")
    src.add_argument("--thermal-topic", help="thermal Image topic (bag: /thermal/image_raw, live: thermal/image_raw)")
    src.add_argument("--max-dt", type=_positive, default=0.02, help="max stamp difference of a pair (s)")
    src.add_argument("--views", type=_count, default=20, help="live: stop after this many diverse views")
    src.add_argument("--timeout", type=_positive, default=120.0, help="live: stop after this many seconds")
    p.add_argument("--board", required=True, help="e.g. chessboard:9x6:0.04, circles:4x3:0.09, charuco:5x7:0.04:0.03:DICT_5X5_100")
    p.add_argument("--thermal-board", help="board as the thermal camera sees it, if different")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--plane-distance", type=_distance, help="working distance in metres (or inf) for the homography; "
                   "default: fit to the board corners")
    p.add_argument("--output-size", type=_size, help="registered size WxH (default: the crop's own size)")
    p.add_argument("--refine-centres", action=argparse.BooleanOptionalAction, default=True,
                   help="circle grids: re-measure centres in fronto-parallel unwarps and re-calibrate (default on)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from calibration.pipeline import calibrate_folders, calibrate_pairs
    from calibration.sources import read_bag_pairs

    try:
        board = parse_board(args.board)
        tboard = parse_board(args.thermal_board) if args.thermal_board else None
        common = dict(thermal_board=tboard, plane_distance=args.plane_distance, output_size=args.output_size,
                      progress=not args.quiet, refine_centres=args.refine_centres)
        if sum(bool(x) for x in (args.bag, args.live, args.visible or args.thermal)) > 1:
            raise CalibrationError("give one source: --bag PATH, --live, or --visible DIR --thermal DIR")
        if args.bag:
            pairs = read_bag_pairs(args.bag, args.rgb_topic or "/rgb/image_raw",
                                   args.thermal_topic or "/thermal/image_raw", args.max_dt)
            res = calibrate_pairs(pairs, board, args.output, diverse_only=True, **common)
        elif args.live:
            from calibration.live import collect_live_views

            views = collect_live_views(board, tboard, args.rgb_topic or "rgb/image_raw",
                                       args.thermal_topic or "thermal/image_raw", args.views, args.timeout,
                                       args.max_dt, log=None if args.quiet else lambda m: print(m, file=sys.stderr))
            res = calibrate_pairs(views, board, args.output, **common)
        else:
            if not (args.visible and args.thermal):
                raise CalibrationError("give --visible DIR and --thermal DIR (or --bag PATH, or --live)")
            res = calibrate_folders(args.visible, args.thermal, board, args.output, args.plane_distance,
                                    args.output_size, tboard, progress=not args.quiet, refine_centres=args.refine_centres)
    except ImportError as exc:
        print(f"calibrate: error: --live needs ROS 2 (rclpy): {exc}", file=sys.stderr)
        return 2
    except (CalibrationError, BoardSpecError, RegistrationError) as exc:
        print(f"calibrate: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:
        print(f"calibrate: error: {exc}", file=sys.stderr)
        return 2
    r = res.registration
    print(f"visible RMS {res.visible.rms:.3f} px, thermal RMS {res.thermal.rms:.3f} px, stereo RMS {res.stereo.rms:.3f} px, "
          f"baseline {np.linalg.norm(res.stereo.t):.3f} m; wrote {args.output}/registration.yaml ({r.output_size[0]}x{r.output_size[1]})")
    for cam, names in res.missing.items():
        if names:
            print(f"no board in {len(names)} {cam} view(s): {', '.join(names)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
