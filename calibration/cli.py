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
``calibrate``: board images (two folders, a rosbag2 or live topics) -> registration folder.

FMB's separate boards: ``--visible-board``/``--thermal-board`` name each
sensor's own intrinsic board, captured in ``--visible-intrinsics`` /
``--thermal-intrinsics`` (a folder, or ``BAG@START:END``); the joint
captures show ``--board`` to both cameras. A sensor board different from
``--board`` without its own captures would pair two boards' points by
index, which is refused (one line, exit 2).
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from calibration.boards import BoardSpecError, parse_board
from calibration.intrinsics import CalibrationError
import numpy as np
from ros2_ssvif.registration import RegistrationError


def _distance(text: str) -> float:
    if text.strip().lower() in ('inf', 'infinity'):
        return float('inf')
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected metres or inf, got {text!r}') from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f'plane distance must be positive, got {text!r}')
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not v > 0 or not np.isfinite(v):
        raise argparse.ArgumentTypeError(f'must be a positive number, got {text!r}')
    return v


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
    if v < 4:
        raise argparse.ArgumentTypeError(f'at least 4 views are needed, got {text!r}')
    return v


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected WxH like 800x600, got {text!r}') from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f'output size must be positive, got {text!r}')
    return w, h


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='calibrate', description='Calibrate an RGB + thermal rig into registration.yaml.')
    src = p.add_argument_group('source: two folders paired by file stem, a bag, or live topics')
    src.add_argument('--visible', help='folder of visible images')
    src.add_argument('--thermal', help='folder of thermal images (8- or 16-bit)')
    src.add_argument('--bag', help='rosbag2 folder or file (sqlite3 / mcap)')
    src.add_argument('--live', action='store_true',
                     help='subscribe to the camera topics (needs rclpy)')
    src.add_argument('--rgb-topic',
                     help='visible Image topic (bag: /rgb/image_raw, live: rgb/image_raw)')
    src.add_argument('--thermal-topic',
                     help='thermal Image topic (bag: /thermal/image_raw, live: thermal/image_raw)')
    src.add_argument('--max-dt', type=_positive, default=0.02,
                     help='max stamp difference of a pair (s; default 0.02)')
    src.add_argument('--views', type=_count, default=20,
                     help='live: stop after this many diverse views (default 20)')
    src.add_argument('--timeout', type=_positive, default=120.0,
                     help='live: stop after this many seconds (default 120)')
    p.add_argument('--board', required=True,
                   help='the joint board both cameras see, e.g. chessboard:9x6:0.04 (inner '
                        'corners per row x per column, square size in m), circles:4x3:0.09, '
                        'charuco:5x7:0.04:0.03:DICT_5X5_100')
    sep = p.add_argument_group(
        "FMB's separate boards: each sensor's own intrinsic captures (optional)")
    sep.add_argument('--visible-board', help='board of --visible-intrinsics (default: --board)')
    sep.add_argument('--thermal-board', help='board of --thermal-intrinsics (default: --board)')
    sep.add_argument('--visible-intrinsics', metavar='DIR|BAG[@START:END]',
                     help='visible-only captures: a folder, or a segment (s) of --rgb-topic '
                          'in a bag')
    sep.add_argument('--thermal-intrinsics', metavar='DIR|BAG[@START:END]',
                     help='thermal-only captures: a folder, or a segment (s) of '
                          '--thermal-topic in a bag')
    far = p.add_argument_group('far-plane check: measured alignment at the working distance')
    far.add_argument('--far-pair', nargs=2, action='append', metavar=('VISIBLE', 'THERMAL'),
                     help='a raw pair showing --far-board at the working distance (repeatable)')
    far.add_argument('--far-board', help='board in the far pairs (default: --board)')
    p.add_argument('--output', required=True, help='output folder')
    p.add_argument('--plane-distance', type=_distance,
                   help='working distance in metres (or inf) for the homography; '
                   'default: fit to the board corners')
    p.add_argument('--output-size', type=_size,
                   help="registered size WxH (default: the crop's own size)")
    p.add_argument('--refine-centres', action=argparse.BooleanOptionalAction, default=True,
                   help='circle grids and chessboards: re-measure centres / corners in '
                        'fronto-parallel unwarps and re-calibrate; kept where it lowers the '
                        'held-out error (default on)')
    p.add_argument('--joint-refinement', choices=('auto', 'on', 'off'), default='auto',
                   help="refine both cameras' intrinsics with the rig pose: auto = where "
                        'left-out joint views are predicted better (default)')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    return p


def _intrinsic_views(source: str | None, topic: str):
    from calibration.intrinsic_sources import parse_segment, read_intrinsic_views

    if source is None:
        return None
    path = parse_segment(source)[0]
    if not path.exists():
        raise CalibrationError(f'intrinsic captures not found: {path}')
    return read_intrinsic_views(source, topic)


def _far_pairs(pairs):
    from calibration.sources import load_image

    return [(f'{Path(v).stem} / {Path(t).stem}', load_image(v), load_image(t))
            for v, t in pairs or []]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from calibration.intrinsic_sources import is_bag
    from calibration.pipeline import calibrate_folders, calibrate_pairs
    from calibration.sources import read_bag_pairs, unpaired_note

    try:
        board = parse_board(args.board)
        rgb_topic = args.rgb_topic or ('rgb/image_raw' if args.live else '/rgb/image_raw')
        th_topic = args.thermal_topic or ('thermal/image_raw' if args.live
                                          else '/thermal/image_raw')
        bag_rgb = args.rgb_topic or '/rgb/image_raw'
        bag_th = args.thermal_topic or '/thermal/image_raw'
        intrinsic_sources = (args.visible_intrinsics, args.thermal_intrinsics)
        far_board = parse_board(args.far_board) if args.far_board else None
        common = {
            'thermal_board': parse_board(args.thermal_board) if args.thermal_board else None,
            'visible_board': parse_board(args.visible_board) if args.visible_board else None,
            'visible_views': _intrinsic_views(args.visible_intrinsics, bag_rgb),
            'thermal_views': _intrinsic_views(args.thermal_intrinsics, bag_th),
            'intrinsic_diverse_only': any(is_bag(s) for s in intrinsic_sources if s),
            'far_pairs': _far_pairs(args.far_pair), 'far_board': far_board,
            'plane_distance': args.plane_distance, 'output_size': args.output_size,
            'progress': not args.quiet,
            'refine_centres': args.refine_centres, 'joint_refinement': args.joint_refinement}
        if Path(args.output).exists() and not Path(args.output).is_dir():
            raise CalibrationError(f'--output {args.output} is a file, not a folder')
        if sum(bool(x) for x in (args.bag, args.live, args.visible or args.thermal)) > 1:
            raise CalibrationError(
                'give one source: --bag PATH, --live, or --visible DIR --thermal DIR')
        if args.bag:
            pairs = read_bag_pairs(args.bag, bag_rgb, bag_th, args.max_dt)
            res = calibrate_pairs(pairs, board, args.output, diverse_only=True, **common)
        elif args.live:
            from calibration.live import collect_live_views

            def log(m):
                print(m, file=sys.stderr)

            views = collect_live_views(board, None, rgb_topic, th_topic, args.views, args.timeout,
                                       args.max_dt, log=None if args.quiet else log)
            res = calibrate_pairs(views, board, args.output, **common)
        else:
            if not (args.visible and args.thermal):
                raise CalibrationError(
                    'give --visible DIR and --thermal DIR (or --bag PATH, or --live)')
            res = calibrate_folders(args.visible, args.thermal, board, args.output, **common)
            note = unpaired_note(args.visible, args.thermal)
            if note:
                print(f'note: {note}', file=sys.stderr)
    except ImportError as exc:
        print(f'calibrate: error: --live needs ROS 2 (rclpy): {exc}', file=sys.stderr)
        return 2
    except (CalibrationError, BoardSpecError, RegistrationError) as exc:
        print(f'calibrate: error: {exc}', file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:
        print(f'calibrate: error: {exc}', file=sys.stderr)
        return 2
    r = res.registration
    t, sd = np.asarray(r.info['t_visible_to_thermal_m']) * 1000, res.joint.t_std * 1000
    tt = ', '.join(f'{a:.1f}±{b:.1f}' for a, b in zip(t, sd))
    print(f'visible RMS {res.visible.rms:.3f} px, thermal RMS {res.thermal.rms:.3f} px, '
          f'stereo RMS {res.stereo.rms:.3f} px, t ({tt}) mm ({res.joint_mode}); '
          f'wrote {args.output}/registration.yaml ({r.output_size[0]}x{r.output_size[1]})')
    for name, v in res.far_plane.items():
        if 'error' in v:
            print(f"far-plane check {name}: {v['error']}", file=sys.stderr)
        else:
            print(f"far-plane check {name}: median {v['median px']:.2f} px, "
                  f"p95 {v['p95 px']:.2f} px registered (board at {v['board distance m']} m)")
    for w in [*res.visible.warnings, *res.thermal.warnings, *res.warnings]:
        print(f'warning: {w}', file=sys.stderr)
    for cam, names in res.missing.items():
        if names:
            print(f"no board in {len(names)} {cam} view(s): {', '.join(names)}", file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
