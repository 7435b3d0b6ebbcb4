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
Raw RGB-thermal captures with labels, as image files on disk.

The training and registration tools read folders of PNGs, so this writes
exactly that: visible as 8-bit colour PNG, thermal as 16-bit PNG holding
raw counts (no scaling, so radiometry survives), labels as 8-bit ids in
the raw visible frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np
from simulation.renderer import SceneRenderer
from simulation.rig import Rig
from simulation.scenario import random_scene
from simulation.world import CONDITIONS, SceneError


def _check_conditions(conditions: Iterable[str]) -> tuple[str, ...]:
    conds = tuple(conditions)
    if not conds:
        raise SceneError('conditions must name at least one of ' + ', '.join(CONDITIONS))
    bad = [c for c in conds if c not in CONDITIONS]
    if bad:
        raise SceneError(
            f'unknown condition(s) {", ".join(map(repr, bad))}; '
            f'choose from {", ".join(CONDITIONS)}'
        )
    return conds


def write_raw_captures(out_dir, rig: Rig, n: int, seed: int = 0,
                       conditions: Iterable[str] = CONDITIONS,
                       progress: Callable[[int], None] | None = None) -> list[str]:
    """
    Render ``n`` random scenes (conditions in turn) and write them; returns the frame names.

    Same ``seed`` -> byte-identical files.
    """
    if int(n) <= 0:
        raise SceneError(f'n must be a positive number of frames, got {n}')
    conds = _check_conditions(conditions)
    out = Path(out_dir)
    dirs = {k: out / k for k in ('visible', 'thermal', 'labels')}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    renderer = SceneRenderer(rig)
    rng = np.random.default_rng(seed)
    names = []
    for i in range(int(n)):
        name = f'frame_{i:04d}'
        scene = random_scene(rng)
        pair = renderer.render(scene, conds[i % len(conds)], rng=np.random.default_rng([seed, i]))
        ok = cv2.imwrite(
            str(dirs['visible'] / f'{name}.png'), cv2.cvtColor(pair.rgb, cv2.COLOR_RGB2BGR)
        )
        ok &= cv2.imwrite(str(dirs['thermal'] / f'{name}.png'), pair.thermal)
        ok &= cv2.imwrite(str(dirs['labels'] / f'{name}.png'), pair.label)
        if not ok:
            raise OSError(f'could not write {name}.png under {out}')
        names.append(name)
        if progress is not None:
            progress(1)
    return names
