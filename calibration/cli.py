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

``calibrate --check BAG[@START:END] | VISIBLE_DIR THERMAL_DIR --calibration
calib/`` reports how well an existing registration aligns a recorded drive
(:mod:`calibration.check`): exit 0 aligned within ``--warn-px``, 1 not, 3 too
little texture to tell; ``--write-corrected FILE`` writes the registration
with the measured shift folded in.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from calibration.boards import parse_board
from calibration.errors import CalibrationError
from calibration.options import CalibrationOptions
import numpy as np
from ros2_ssvif.cli import add_thermal_argument, image_size, positive_float, run_command
from ros2_ssvif.cli import whole_number


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


_views = whole_number(4, 'at least 4 views are needed')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='calibrate', description='Calibrate an RGB + thermal rig into registration.yaml.')
    src = p.add_argument_group('source: two folders paired by file stem, a bag, or live topics')
    src.add_argument('--visible', help='folder of visible images')
    add_thermal_argument(src, help='folder of thermal images (8- or 16-bit)')
    src.add_argument('--bag', help='rosbag2 folder or file (sqlite3 / mcap)')
    src.add_argument('--live', action='store_true',
                     help='subscribe to the camera topics (needs rclpy)')
    src.add_argument('--rgb-topic',
                     help='visible Image topic (bag: /rgb/image_raw, live: rgb/image_raw)')
    src.add_argument('--thermal-topic',
                     help='thermal Image topic (bag: /thermal/image_raw, live: thermal/image_raw)')
    src.add_argument('--max-dt', type=positive_float, default=0.02,
                     help='max stamp difference of a pair (s; default 0.02)')
    src.add_argument('--views', type=_views, default=20,
                     help='live: stop after this many diverse views (default 20)')
    src.add_argument('--timeout', type=positive_float, default=120.0,
                     help='live: stop after this many seconds (default 120)')
    chk = p.add_argument_group('check an existing registration instead of calibrating')
    chk.add_argument('--check', nargs='+', metavar='BAG[@START:END] | VISIBLE_DIR THERMAL_DIR',
                     help='measure the alignment of --calibration over a drive or raw pairs')
    chk.add_argument('--calibration', help='--check: calibration folder or registration.yaml')
    chk.add_argument('--write-corrected', metavar='FILE',
                     help='--check: write the registration with the measured shift folded in')
    chk.add_argument('--warn-px', type=positive_float, default=2.0,
                     help="--check: a shift above this is misaligned (default 2.0, the node's "
                          'registration_warn_px)')
    p.add_argument('--board',
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
    p.add_argument('--output', help='output folder')
    p.add_argument('--plane-distance', type=_distance,
                   help='working distance in metres (or inf) for the homography; '
                   'default: fit to the board corners')
    p.add_argument('--output-size', type=image_size,
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


def _check(args) -> int:
    """``--check``: measure, print one verdict line, optionally write the corrected file."""
    from calibration.check import check_registration, corrected_registration
    from ros2_ssvif.alignment import AlignmentSettings
    from ros2_ssvif.registration import load_registration

    if not args.calibration:
        raise CalibrationError('--check needs --calibration (a folder or its registration.yaml)')
    if len(args.check) > 2:
        raise CalibrationError('--check takes a bag (BAG or BAG@START:END) or two folders')
    cal = Path(args.calibration)
    reg_file = cal / 'registration.yaml' if cal.is_dir() else cal
    reg = load_registration(reg_file)
    settings = AlignmentSettings(warn_px=args.warn_px)
    from tqdm import tqdm

    with tqdm(unit='pair', desc='checking', disable=args.quiet) as bar:
        res = check_registration(reg, args.check, args.rgb_topic or '/rgb/image_raw',
                                 args.thermal_topic or '/thermal/image_raw', args.max_dt,
                                 settings, progress=bar.update)
    where = f"{reg_file} over {res.pairs} pairs of {' '.join(args.check)}"
    if res.shift is None:
        print(f'calibrate --check: {where}: too little texture to tell ({len(res.confident)} '
              f'confident pairs, need {settings.min_used})')
        return 3
    dx, dy = res.shift
    off = float(np.hypot(dx, dy))
    verdict = (f'WARN, more than {args.warn_px:g} px: recalibrate or use --write-corrected'
               if off > args.warn_px else f'OK, within {args.warn_px:g} px')
    print(f'calibrate --check: {where}: thermal lies ({dx:+.2f}, {dy:+.2f}) px from visible '
          f'(median of {len(res.confident)} confident pairs, spread {res.spread_px:.2f} px, '
          f'confidence {res.confidence:.2f}): {verdict}')
    if args.write_corrected:
        out = Path(args.write_corrected)
        out.parent.mkdir(parents=True, exist_ok=True)
        corrected_registration(reg, res.shift, {'source': ' '.join(args.check),
                                                'pairs': len(res.confident)}).save(out)
        print(f'calibrate --check: wrote {out} (thermal moved back by ({dx:+.2f}, {dy:+.2f}) px; '
              'crop and output size kept)')
    return 1 if off > args.warn_px else 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return run_command('calibrate', lambda: _check(args) if args.check else _calibrate(args),
                       errors=(MemoryError,))


def options_from_args(args) -> CalibrationOptions:
    """Return the calibration options the command line gives (the source decides the rest)."""
    from calibration.intrinsic_sources import is_bag

    bag_rgb = args.rgb_topic or '/rgb/image_raw'
    bag_th = args.thermal_topic or '/thermal/image_raw'
    intrinsic_sources = (args.visible_intrinsics, args.thermal_intrinsics)
    return CalibrationOptions(
        thermal_board=parse_board(args.thermal_board) if args.thermal_board else None,
        visible_board=parse_board(args.visible_board) if args.visible_board else None,
        visible_views=_intrinsic_views(args.visible_intrinsics, bag_rgb),
        thermal_views=_intrinsic_views(args.thermal_intrinsics, bag_th),
        intrinsic_diverse_only=any(is_bag(s) for s in intrinsic_sources if s),
        far_pairs=_far_pairs(args.far_pair),
        far_board=parse_board(args.far_board) if args.far_board else None,
        plane_distance=args.plane_distance, output_size=args.output_size,
        progress=not args.quiet, refine_centres=args.refine_centres,
        joint_refinement=args.joint_refinement)


def _calibrate(args) -> int:
    if not args.board or not args.output:
        raise CalibrationError('--board and --output are required (or use --check)')
    from calibration.pipeline import calibrate_folders, calibrate_pairs
    from calibration.sources import read_bag_pairs, unpaired_note

    board = parse_board(args.board)
    rgb_topic = args.rgb_topic or ('rgb/image_raw' if args.live else '/rgb/image_raw')
    th_topic = args.thermal_topic or ('thermal/image_raw' if args.live else '/thermal/image_raw')
    options = options_from_args(args)
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise CalibrationError(f'--output {args.output} is a file, not a folder')
    if sum(bool(x) for x in (args.bag, args.live, args.visible or args.thermal)) > 1:
        raise CalibrationError(
            'give one source: --bag PATH, --live, or --visible DIR --thermal DIR')
    if args.bag:
        pairs = read_bag_pairs(args.bag, rgb_topic, th_topic, args.max_dt)
        res = calibrate_pairs(pairs, board, args.output, options, diverse_only=True)
    elif args.live:
        def log(m):
            print(m, file=sys.stderr)

        try:
            from calibration.live import collect_live_views

            views = collect_live_views(board, None, rgb_topic, th_topic, args.views,
                                       args.timeout, args.max_dt,
                                       log=None if args.quiet else log)
        except ImportError as exc:
            raise CalibrationError(f'--live needs ROS 2 (rclpy): {exc}') from None
        res = calibrate_pairs(views, board, args.output, options)
    else:
        if not (args.visible and args.thermal):
            raise CalibrationError(
                'give --visible DIR and --thermal DIR (or --bag PATH, or --live)')
        res = calibrate_folders(args.visible, args.thermal, board, args.output, options)
        note = unpaired_note(args.visible, args.thermal)
        if note:
            print(f'note: {note}', file=sys.stderr)
    _print_result(res, args.output)
    return 0


def _print_result(res, output) -> None:
    r = res.registration
    t, sd = np.asarray(r.info['t_visible_to_thermal_m']) * 1000, res.joint.t_std * 1000
    tt = ', '.join(f'{a:.1f}±{b:.1f}' for a, b in zip(t, sd))
    print(f'visible RMS {res.visible.rms:.3f} px, thermal RMS {res.thermal.rms:.3f} px, '
          f'stereo RMS {res.stereo.rms:.3f} px, t ({tt}) mm ({res.joint_mode}); '
          f'wrote {output}/registration.yaml ({r.output_size[0]}x{r.output_size[1]})')
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


if __name__ == '__main__':
    sys.exit(main())
