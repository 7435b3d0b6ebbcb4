# noqa: A005 (always imported as evaluation.io, never run from its folder)
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
Reading image folders and pairing IR, visible and fused files by stem.

One job: go from three directories to a list of (stem, ir_path, vis_path,
fused_path) and from a path to an 8-bit RGB or grayscale array, with a
readable error for everything that can go wrong.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.image_files import IMAGE_SUFFIXES, ImageFolderError, images_by_stem  # noqa: F401
from ros2_ssvif.image_files import ImageFileError, read_image_file


_SEPARATORS = ('_', '-', '.')


class InputError(SsvifError, ValueError):
    """Bad input the user can fix (missing folder, unreadable image, ...)."""


def read_image(path: str | Path) -> np.ndarray:
    """Return an 8-bit image as HxW (grayscale) or HxWx3 RGB uint8."""
    path = Path(path)
    img = _read(path)
    return _as_8bit(img, path)


def _read(path: Path) -> np.ndarray:
    try:
        return read_image_file(path)
    except ImageFileError as exc:
        raise InputError(str(exc)) from None


def _as_8bit(img: np.ndarray, path: Path) -> np.ndarray:
    if img.dtype != np.uint8:
        raise InputError(f'{path}: expected an 8-bit image, got {img.dtype}')
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., :3]  # drop alpha
        if img.shape[2] == 1:
            return img[..., 0]
        return np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB
    return img


def read_ir_image(path: str | Path) -> np.ndarray:
    """
    Read an infrared image as 8-bit grey (or RGB).

    16-bit thermal (as ``register`` writes it) is mapped to 8 bits through the runtime's
    ThermalNormalizer for stills, the same mapping training applies, so a score judges
    the image the network saw.
    """
    from ros2_ssvif.thermal import ThermalNormalizer

    path = Path(path)
    img = _read(path)
    if img.dtype == np.uint16 and img.ndim == 2:
        return (ThermalNormalizer().for_stills()(img) * 255.0 + 0.5).astype(np.uint8)
    return _as_8bit(img, path)


def list_images(folder: str | Path, role: str) -> dict[str, Path]:
    """Map stem -> path of every image file directly in ``folder``."""
    try:
        return images_by_stem(folder)
    except ImageFolderError as exc:
        raise InputError(f'--{role}: {exc}') from None


def _source_of(fused_stem: str, stems: list[str], suffix: str | None) -> str | None:
    if suffix is not None:
        if fused_stem.endswith(suffix):
            base = fused_stem[: len(fused_stem) - len(suffix)] if suffix else fused_stem
            return base if base in stems else None
        return None
    best = None
    for s in stems:
        if fused_stem == s or any(fused_stem.startswith(s + sep) for sep in _SEPARATORS):
            if best is None or len(s) > len(best):
                best = s
    return best


def match_triplets(ir_dir, vis_dir, fused_dir, fused_suffix: str | None = None
                   ) -> tuple[list[tuple[str, Path, Path, Path]], list[str]]:
    """
    Pair images by stem: ([(stem, ir, vis, fused), ...], [stems without a fused image]).

    IR and visible files must have the same stem.  A fused file matches a
    stem exactly, as stem + ``fused_suffix`` when that is given, or else as
    stem + '_'/'-'/'.' + anything (e.g. ``man_SeAFusion.jpg`` for ``man``;
    the longest matching stem wins, so ``walking2_X`` is not ``walking``).
    """
    ir, vis, fused = (
        list_images(ir_dir, 'ir'),
        list_images(vis_dir, 'visible'),
        list_images(fused_dir, 'fused'),
    )
    stems = sorted(set(ir) & set(vis))
    if not stems:
        raise InputError(
            f'no file stem is in both --ir ({len(ir)} images) and --visible ({len(vis)} images)'
        )
    chosen: dict[str, Path] = {}
    for fstem, fpath in fused.items():
        s = _source_of(fstem, stems, fused_suffix)
        if s is None:
            continue
        if s in chosen:
            raise InputError(
                f'--fused: more than one image matches {s!r}: {chosen[s].name}, {fpath.name} '
                f'(use --fused-suffix)'
            )
        chosen[s] = fpath
    if not chosen:
        hint = f' with suffix {fused_suffix!r}' if fused_suffix is not None else ''
        raise InputError(f'no fused image in {fused_dir} matches a source stem{hint} '
                         f'(e.g. {stems[0]!r}; fused files look like {next(iter(fused))!r})')
    triplets = [(s, ir[s], vis[s], chosen[s]) for s in stems if s in chosen]
    missing = [s for s in stems if s not in chosen]
    return triplets, missing
