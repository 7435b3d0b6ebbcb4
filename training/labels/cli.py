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
``ssvif_make_labels``: segmentation labels for real pairs from teachers, boxes and thermal.

    ssvif_make_labels --boxes DIR [--boxes-list FILE] --pairs DIR [--pairs-list FILE] \
        --weights DIR --output DIR [--teachers deeplab,espnetv2] [--no-progress]

What the labels are and how they are made: :mod:`training.labels.make`.
Errors print one line, exit 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ros2_ssvif.cli import run_command
from ros2_ssvif.image_files import images_by_stem, read_name_list
from training.labels.make import LabelSet, make_labels, write_report


__all__ = ['main']


def main(argv: list[str] | None = None) -> int:
    """ssvif_make_labels: segmentation labels for real pairs from teachers, boxes and thermal."""
    ap = argparse.ArgumentParser(prog='ssvif_make_labels', description=main.__doc__)
    ap.add_argument('--boxes', help='a set with box labels (msrs_test_dev layout)')
    ap.add_argument('--boxes-list', help='names of --boxes to label (e.g. the train split)')
    ap.add_argument('--pairs', help='a set without labels (vi/, ir/; e.g. RoadScene)')
    ap.add_argument('--pairs-list', help='names of --pairs to label (relative to --pairs or not)')
    ap.add_argument('--weights', required=True, help="folder with the teachers' weights")
    ap.add_argument('--teachers', default='deeplab,espnetv2',
                    help='comma list of teachers that must agree (default deeplab,espnetv2)')
    ap.add_argument('--output', required=True)
    ap.add_argument('--no-progress', action='store_true')
    args = ap.parse_args(argv)

    def run() -> int:
        sets = []
        for kind, root, lst in (('boxes', args.boxes, args.boxes_list),
                                ('pairs', args.pairs, args.pairs_list)):
            if root is None:
                continue
            root = Path(root)
            if lst is None:
                names = sorted(images_by_stem(root / 'vi'))
            else:
                lp = Path(lst) if Path(lst).is_file() else root / lst
                names = read_name_list(lp)
            sets.append(LabelSet(root.name, root, tuple(names), kind == 'boxes'))
        if not sets:
            raise ValueError('give --boxes and/or --pairs')
        from training.teachers import load_teacher

        teachers = [load_teacher(t.strip(), args.weights) for t in args.teachers.split(',')
                    if t.strip()]
        output = Path(args.output)
        stats = make_labels(sets, teachers, output, progress=not args.no_progress)
        write_report(stats, sets, output)
        print(f'ssvif_make_labels: labels in {output}; report {output / "report.md"}')
        return 0

    return run_command('ssvif_make_labels', run, errors=(ImportError,), plain=True)


if __name__ == '__main__':
    raise SystemExit(main())
