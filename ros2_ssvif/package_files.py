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
Where the package's own files are: share directory, default model, params file.

A colcon workspace installs them under ``share/ros2_ssvif`` (found through
``ament_index_python``); a pip install puts them under
``<prefix>/share/ros2_ssvif``; a source checkout has them next to the
``ros2_ssvif`` folder. The node, ``process_bag`` and the launch file resolve
``model_path`` the same way through :func:`resolve_model_path`.
"""
from __future__ import annotations

from pathlib import Path
import sys


PACKAGE = 'ros2_ssvif'
DEFAULT_MODEL = Path('models') / 'ssvif_default.onnx'
PARAMS_FILE = Path('config') / 'fusion.yaml'


def share_dirs() -> list[Path]:
    """Candidate package directories, most specific first (existing ones only)."""
    out: list[Path] = []
    try:
        from ament_index_python.packages import get_package_share_directory

        out.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:  # not in an ament index (pip install, source checkout)
        pass
    source_tree = Path(__file__).resolve().parent.parent
    if (source_tree / 'package.xml').is_file():
        out.append(source_tree)
    out.append(Path(sys.prefix) / 'share' / PACKAGE)
    seen, unique = set(), []
    for d in out:
        if d.is_dir() and d.resolve() not in seen:
            seen.add(d.resolve())
            unique.append(d)
    return unique


def find_package_file(relative: str | Path) -> Path | None:
    """Return the first share directory that holds ``relative``, else None."""
    for d in share_dirs():
        if (d / relative).is_file():
            return d / relative
    return None


def default_model_path() -> Path:
    """
    Return the shipped model.

    If it is nowhere, the path where it is expected (for the error).
    """
    found = find_package_file(DEFAULT_MODEL)
    if found is not None:
        return found
    dirs = share_dirs()
    return (dirs[0] if dirs else Path.cwd()) / DEFAULT_MODEL


def resolve_model_path(model_path: str) -> Path:
    """
    ``model_path`` as the node reads it.

    Empty: the package's default model. Absolute (or ``~``): as given.
    Relative: the package share directory if the file is there, else the
    current directory.
    """
    if not model_path:
        return default_model_path()
    p = Path(model_path).expanduser()
    if p.is_absolute():
        return p
    return find_package_file(p) or (Path.cwd() / p)


def default_params_file() -> Path:
    found = find_package_file(PARAMS_FILE)
    if found is None:
        raise ValueError(
            f'cannot find {PARAMS_FILE} in {", ".join(map(str, share_dirs()))}; pass --params'
        )
    return found
