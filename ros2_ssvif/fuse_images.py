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
Fuse image folders with an exported bundle, torch-free: ``ssvif_fuse --model X.onnx``.

The same code path as the node: ``FramePipeline.run_arrays`` (registration,
thermal normalisation, ONNX Runtime, post-processing), so a folder fused
here equals what ``fusion_node`` publishes for the same pair. Thermal
images are unrelated stills, so the normaliser runs without a running
window (``ThermalNormalizer.for_stills``): 8-bit thermal is used as given,
16-bit raw counts get the per-image percentile window, which is also the
window the node's running mode starts from on a first frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.image_files import ImageFileError, ImageFolderError, images_by_stem
from ros2_ssvif.image_files import read_image_file
from ros2_ssvif.thermal import ThermalNormalizer


class FuseError(SsvifError, ValueError):
    """A folder, image or model problem the user can fix; the text says which."""


@dataclass
class FuseResult:
    fused: list[Path]
    masks: list[Path]


def _read(path: Path) -> np.ndarray:
    """Decode one file after the header check (``image_files.read_image_file``)."""
    try:
        return read_image_file(path)
    except ImageFileError as exc:
        raise FuseError(str(exc)) from None


def read_visible_u8(path: Path) -> np.ndarray:
    """
    Read an RGB uint8 image.

    Grey repeated, 16-bit reduced to its top 8 bits, alpha dropped.
    """
    img = _read(path)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise FuseError(f'{path}: visible image must be 8- or 16-bit, got {img.dtype}')
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_thermal_raw(path: Path) -> np.ndarray:
    """
    Read the thermal image as stored.

    8- or 16-bit; a 3-channel file is averaged by the normaliser.
    """
    img = _read(path)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return img


def matched_stems(visible_dir: Path, ir_dir: Path) -> list[tuple[str, Path, Path]]:
    try:
        vis, ir = images_by_stem(visible_dir), images_by_stem(ir_dir)
    except ImageFolderError as exc:
        raise FuseError(str(exc)) from None
    lonely = sorted(set(vis) ^ set(ir))
    if lonely:
        raise FuseError(
            f'{len(lonely)} stem(s) are in only one folder, e.g. {", ".join(lonely[:5])}'
        )
    if not vis:
        raise FuseError(f'no images in {visible_dir}')
    return [(s, vis[s], ir[s]) for s in sorted(vis)]


def fuse_folders(
    model_path: str | Path,
    visible_dir: str | Path,
    ir_dir: str | Path,
    out_dir: str | Path,
    masks_dir: str | Path | None = None,
    normalizer: ThermalNormalizer | None = None,
    providers=('cpu',),
    progress: bool = True,
) -> FuseResult:
    """
    Fuse every stem-matched pair.

    Writes ``out_dir/STEM.png`` (RGB at the input size) and, with ``masks_dir``,
    ``masks_dir/STEM.png`` (class ids, mono8).
    """
    from ros2_ssvif.model_runner import FusionSegmenter, ModelError
    from ros2_ssvif.pipeline import FrameError, FramePipeline
    from tqdm import tqdm

    pairs = matched_stems(Path(visible_dir), Path(ir_dir))
    try:
        model = FusionSegmenter(model_path, providers)
    except ModelError as exc:
        raise FuseError(str(exc)) from None
    pipeline = FramePipeline(model, normalizer=(normalizer or ThermalNormalizer()).for_stills())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if masks_dir is not None:
        Path(masks_dir).mkdir(parents=True, exist_ok=True)
    result = FuseResult([], [])
    for stem, vp, ip in tqdm(pairs, desc='ssvif_fuse', unit='img', disable=not progress):
        vis, thr = read_visible_u8(vp), read_thermal_raw(ip)
        if vis.shape[:2] != thr.shape[:2]:
            raise FuseError(
                f'{stem}: visible {vp.name} is {vis.shape[1]}x{vis.shape[0]}, '
                f'thermal {ip.name} is {thr.shape[1]}x{thr.shape[0]} (register them first)'
            )
        try:
            frame = pipeline.run_arrays(vis, thr)
        except FrameError as exc:
            raise FuseError(f'{stem}: {exc}') from None
        path = out / f'{stem}.png'
        if not cv2.imwrite(str(path), cv2.cvtColor(frame.fused, cv2.COLOR_RGB2BGR)):
            raise OSError(f'cannot write {path}')
        result.fused.append(path)
        if masks_dir is not None:
            mpath = Path(masks_dir) / f'{stem}.png'
            if not cv2.imwrite(str(mpath), frame.mask):
                raise OSError(f'cannot write {mpath}')
            result.masks.append(mpath)
    return result
