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
Folders of images keyed by file stem: how every command pairs files.

Calibration, ``register``, training datasets and the evaluation commands
all match a visible, a thermal (and maybe a label or fused) image by stem;
this is the one listing they share, so they agree on what counts as an
image and refuse the same mistakes (two files with one stem, an empty or
missing folder).

:func:`read_image_file` is the one way these commands decode an image
file: a regular file (not a FIFO or a device), then its width and height
from the header, refused above ``MAX_IMAGE_PIXELS`` before anything is
decoded. A 200 KB PNG can declare 100 000 x 100 000 pixels, and
``cv2.imread`` would try to allocate 30 GB for it. OpenCV has no
header-only call; ``PIL.Image.open`` reads only the header (decoding is
lazy) for every format listed here, and pillow is already a runtime
dependency, so the header is read with it instead of a parser of our own.
"""
from __future__ import annotations

from pathlib import Path
import warnings

import cv2
import numpy as np
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.safe_files import check_regular_file, FileCheckError, MAX_IMAGE_FILE_BYTES


IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.pgm', '.ppm')
MAX_IMAGE_PIXELS = 7680 * 4320  # 8K UHD: larger than any camera of a rig, smaller than a bomb


class ImageFolderError(SsvifError, ValueError):
    """A folder is missing, empty, or has two images with the same stem."""


class ImageFileError(SsvifError, ValueError):
    """An image file cannot be read, or declares more pixels than allowed; the text says which."""


def image_header_size(path: str | Path) -> tuple[int, int] | None:
    """
    Return (width, height) from the file header, without decoding the pixels.

    None where pillow does not know the format (OpenCV may still read it).
    """
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # DecompressionBombWarning: we judge the size ourselves
        try:
            with Image.open(path) as im:
                return tuple(int(v) for v in im.size)
        except Image.DecompressionBombError:  # pillow's own limit, far above ours
            raise ImageFileError(
                f'{path} declares more than {2 * Image.MAX_IMAGE_PIXELS} pixels, more than the '
                f'{MAX_IMAGE_PIXELS} this command decodes (refused before decoding)') from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return None


def read_image_file(path: str | Path, flags: int = cv2.IMREAD_UNCHANGED,
                    max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """``cv2.imread`` after the checks of the module docstring; ImageFileError if refused."""
    try:
        path = check_regular_file(path, 'image', MAX_IMAGE_FILE_BYTES)
    except FileCheckError as exc:
        raise ImageFileError(str(exc)) from None
    size = image_header_size(path)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageFileError(f'{path} declares {size[0]}x{size[1]} pixels, more than the '
                             f'{max_pixels} this command decodes (refused before decoding)')
    img = cv2.imread(str(path), flags)
    if img is None:
        raise ImageFileError(f'cannot read image {path}')
    return img


def images_by_stem(folder: str | Path) -> dict[str, Path]:
    """Map stem -> path of every image directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageFolderError(f'not a folder: {folder}')
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in found:
                raise ImageFolderError(
                    f'two images share the stem {p.stem!r} in {folder}: '
                    f'{found[p.stem].name}, {p.name}'
                )
            found[p.stem] = p
    if not found:
        raise ImageFolderError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return found


def read_name_list(path: str | Path) -> list[str]:
    """
    Pair names (file stems) of a list file: one per line, blank lines and ``#`` comments skipped.

    The format of data splits (``config/data/*.txt``, RoadScene's
    ``train_split.txt``): a line may be a file name or a stem.
    """
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            out.append(Path(line).stem)
    return out
