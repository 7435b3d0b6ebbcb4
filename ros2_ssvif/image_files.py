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
"""
from __future__ import annotations

from pathlib import Path


IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.pgm', '.ppm')


class ImageFolderError(ValueError):
    """A folder is missing, empty, or has two images with the same stem."""


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
