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
``ssvif_make_synthetic``: write synthetic captures or a synthetic drive bag.

Errors a user can fix (bad numbers, an existing bag) end the program with
one readable line and a non-zero status instead of a traceback.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from ros2_ssvif.cli import positive_float, run_command, whole_number
from simulation.rig import default_rig
from simulation.world import CONDITIONS
from tqdm import tqdm


def _conditions(text: str) -> tuple[str, ...]:
    conds = tuple(c.strip() for c in text.split(',') if c.strip())
    bad = [c for c in conds if c not in CONDITIONS]
    if not conds or bad:
        raise argparse.ArgumentTypeError(
            f'choose from {",".join(CONDITIONS)} (comma separated), got {text!r}'
        )
    return conds


def _bump(text: str) -> tuple[float, float]:
    try:
        dx, dy = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected DX,DY in pixels, got {text!r}') from None
    return dx, dy


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='ssvif_make_synthetic',
                                description=__doc__.strip().splitlines()[0])
    sub = p.add_subparsers(dest='command', required=True)
    c = sub.add_parser('captures', help='raw visible/thermal/label PNGs of random street scenes')
    c.add_argument(
        '--output', required=True, type=Path, help='folder for visible/, thermal/, labels/'
    )
    c.add_argument('--count', required=True, type=whole_number(1))
    c.add_argument('--seed', type=int, default=0)
    c.add_argument(
        '--conditions', type=_conditions, default=CONDITIONS, help='e.g. day,night,fog,glare'
    )
    d = sub.add_parser('drive', help='a rosbag2 drive with free-running RGB and thermal cameras')
    d.add_argument('--output', required=True, type=Path, help='bag directory to create')
    d.add_argument('--duration', type=positive_float, default=6.0, help='seconds')
    d.add_argument('--storage', choices=('sqlite3', 'mcap'), default='sqlite3')
    d.add_argument('--rgb-hz', type=positive_float, default=30.0)
    d.add_argument('--thermal-hz', type=positive_float, default=9.0)
    d.add_argument('--seed', type=int, default=0)
    d.add_argument(
        '--conditions', type=_conditions, default=('day',), help='consecutive parts of the drive'
    )
    d.add_argument('--thermal-bump', type=_bump, default=(0.0, 0.0), metavar='DX,DY',
                   help='knock the thermal camera by DX,DY raw pixels halfway (or at '
                        '--thermal-bump-at): a registration that went wrong')
    d.add_argument('--thermal-bump-at', type=positive_float, default=None, metavar='SECONDS')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command('ssvif_make_synthetic', lambda: _make(args))


def _make(args) -> int:
    if args.command == 'captures':
        from simulation.dataset import write_raw_captures

        out: Path = args.output
        if out.exists() and not out.is_dir():
            raise ValueError(f'{out} exists and is not a folder')
        with tqdm(total=args.count, unit='frame', desc='captures') as bar:
            names = write_raw_captures(
                out, default_rig(), args.count, args.seed, args.conditions, progress=bar.update
            )
        print(f'wrote {len(names)} captures to {out}')
    else:
        from simulation.drive import write_drive_bag

        out = args.output
        if out.exists():
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()  # an empty folder is fine; rosbag2 wants to create it
            else:
                raise ValueError(
                    f'{out} already exists and is not empty; choose a new bag path'
                )
        total = int(args.duration * args.rgb_hz) + int(args.duration * args.thermal_hz) + 2
        with tqdm(total=total, unit='frame', desc='drive') as bar:
            s = write_drive_bag(
                out,
                default_rig(),
                args.duration,
                args.rgb_hz,
                args.thermal_hz,
                args.storage,
                args.seed,
                args.conditions,
                progress=bar.update,
                thermal_bump_px=args.thermal_bump,
                thermal_bump_at_s=args.thermal_bump_at,
            )
        counts = ', '.join(f'{k}: {v}' for k, v in s['counts'].items())
        print(f"wrote {s['storage']} bag {out} ({counts})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
