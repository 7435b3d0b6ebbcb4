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

"""``register``: apply a calibration to one raw pair or two folders."""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from calibration.errors import CalibrationError
from calibration.normalize import stretch
from calibration.sources import list_images, load_image
import cv2
import numpy as np
from ros2_ssvif.cli import add_thermal_argument, run_command
from ros2_ssvif.image_files import ImageFileError, read_image_file
from ros2_ssvif.registration import load_registration
from tqdm import tqdm


def _files(path: Path) -> dict[str, Path]:
    if path.is_dir():
        return list_images(path)
    if not path.exists():
        raise CalibrationError(f'not found: {path}')
    return {path.stem: path}


def _save(path: Path, img: np.ndarray) -> None:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), img):
        raise CalibrationError(f'cannot write {path}')


def _read_label(path: Path) -> np.ndarray:
    try:
        return read_image_file(path)
    except ImageFileError as exc:
        raise CalibrationError(f'label: {exc}') from None


def _check_inputs(names, vis, th, lab, reg) -> None:
    """
    Decode every input once and check its size.

    So a bad file stops ``register`` before it writes anything (no partial dataset).
    """
    for n in tqdm(names, desc='checking inputs', unit='pair', leave=False):
        for files, cam in ((vis, reg.visible), (th, reg.thermal)):
            h, w = load_image(files[n]).shape[:2]
            if (w, h) != (cam.width, cam.height):
                raise CalibrationError(
                    f'{files[n]} is {w}x{h} but the calibration is for {cam.width}x{cam.height}'
                )
        if n in lab:
            h, w = _read_label(lab[n]).shape[:2]
            if (w, h) != (reg.visible.width, reg.visible.height):
                raise CalibrationError(
                    f'label {lab[n]} is {w}x{h} but labels are in the visible frame, '
                    f'{reg.visible.width}x{reg.visible.height}')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog='register', description='Register raw RGB + thermal frames with a calibration.'
    )
    p.add_argument(
        '--calibration', required=True, help='calibration folder (or its registration.yaml)'
    )
    p.add_argument('--visible', required=True, help='visible image or folder')
    add_thermal_argument(p, required=True, help='thermal image or folder')
    p.add_argument('--labels', help='label image or folder (visible frame)')
    p.add_argument('--output', required=True,
                   help='dataset folder: visible/, thermal/ (and labels/) of STEM.png')
    p.add_argument(
        '--normalize-thermal',
        action='store_true',
        help='write thermal as 8-bit percentile-stretched',
    )
    args = p.parse_args(argv)
    return run_command('register', lambda: _register(args))


def _register(args) -> int:
    cal = Path(args.calibration)
    reg = load_registration(
        cal / 'registration.yaml' if cal.is_dir() or not cal.suffix else cal
    )
    vis, th = _files(Path(args.visible)), _files(Path(args.thermal))
    lab = _files(Path(args.labels)) if args.labels else {}
    if len(vis) == 1 and len(th) == 1:
        names = [next(iter(vis))]
        th = {names[0]: next(iter(th.values()))}
        lab = {names[0]: next(iter(lab.values()))} if lab else {}
    else:
        names = sorted(set(vis) & set(th))
        if not names:
            raise CalibrationError(
                'no file stems in common between the visible and thermal inputs'
            )
    _check_inputs(
        names, vis, th, lab, reg
    )  # everything readable and the calibrated size: before writing
    out = Path(args.output)
    for sub in ('visible', 'thermal') + (('labels',) if lab else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    maps = reg.build_maps()
    for n in tqdm(names, desc='registering', unit='pair'):
        v, t = load_image(vis[n]), load_image(th[n])
        rv = maps.register_visible(v)
        rt = maps.register_thermal(t if t.ndim == 2 else cv2.cvtColor(t, cv2.COLOR_RGB2GRAY))
        if args.normalize_thermal:
            rt = stretch(rt)
        _save(out / 'visible' / f'{n}.png', rv)
        _save(out / 'thermal' / f'{n}.png', rt)
        if n in lab:
            lbl = _read_label(lab[n])
            _save(out / 'labels' / f'{n}.png', maps.register_label(lbl))
    if len(names) > 1 or len(vis) > 1 or len(th) > 1:
        unused = (len(vis) - len(names)) + (len(th) - len(names))
        if unused:
            print(f'note: {unused} image(s) without a partner of the same name were not used',
                  file=sys.stderr)
    print(f'registered {len(names)} pair(s) into {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
