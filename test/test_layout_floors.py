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
One-way floors between training and evaluation (house rules, issue 12), and inside rooms.

Training sits below evaluation: it may use the public metrics module
(``evaluation.metrics``, shared scoring such as mIoU) and nothing else of
evaluation; evaluation may use training, but only its public names.
Inside the runtime (issue 18): ``errors`` and ``params`` are its ground
floor, ``config`` describes the parts without building them, and the
parts read a config by field name without importing it. Between rooms and
inside training (issue 18): every import goes to its own floor or below
(``ROOM_FLOORS``, ``TRAINING_FLOORS``; the registry and the config at the
bottom of training, the commands on top).
Imports inside functions count as imports.
"""
from __future__ import annotations

import ast
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path):
    """Return (module, [imported names]) for every absolute import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]


def _files(room: str):
    return sorted((REPO / room).rglob('*.py'))


def test_training_imports_only_the_public_metrics_module_of_evaluation():
    bad = []
    for py in _files('training'):
        for mod, names in _imports(py):
            if mod == 'evaluation' or mod.startswith('evaluation.'):
                public_metrics = mod == 'evaluation.metrics' or mod.startswith(
                    'evaluation.metrics.'
                )
                private = any(p.startswith('_') for p in mod.split('.')) or any(
                    n.startswith('_') for n in names
                )
                if not public_metrics or private or (mod == 'evaluation' and names != ['metrics']):
                    bad.append(f'{py.relative_to(REPO)}: {mod} {names}')
    assert not bad, 'training reaches into evaluation:\n' + '\n'.join(bad)


def test_evaluation_uses_only_public_names_of_training():
    bad = []
    for py in _files('evaluation'):
        for mod, names in _imports(py):
            if mod == 'training' or mod.startswith('training.'):
                private = [n for n in names if n.startswith('_')]
                private += [p for p in mod.split('.') if p.startswith('_') and p != '__init__']
                if private:
                    bad.append(f'{py.relative_to(REPO)}: {mod} {private}')
    assert not bad, 'evaluation imports private names of training:\n' + '\n'.join(bad)


def test_the_rule_sees_function_level_imports(tmp_path):
    """The checker itself: an import inside a function is found, a private name is flagged."""
    f = tmp_path / 'm.py'
    f.write_text(
        'def g():\n    from training.segmenter import _Hidden\n    import evaluation.compare\n'
    )
    found = list(_imports(f))
    assert ('training.segmenter', ['_Hidden']) in found and ('evaluation.compare', []) in found


# -- the runtime's own floors (issue 18) ---------------------------------------------
RUNTIME_GROUND = ('errors', 'params')  # import nothing of the package: everyone may use them
CONFIG_DESCRIBES = ('model_runner', 'pipeline', 'alignment', 'fusion_worker', 'health', 'pairing',
                    'node_core', 'node_outputs', 'process_bag', 'tensorrt')
CONSUMERS = ('pairing', 'health', 'thermal', 'alignment', 'model_runner', 'pipeline',
             'node_outputs')


def _runtime_imports(name: str) -> set[str]:
    return {mod.split('.')[1] for mod, _ in _imports(REPO / 'ros2_ssvif' / f'{name}.py')
            if mod.startswith('ros2_ssvif.')}


def test_the_runtime_ground_floor_imports_nothing_of_the_package():
    for name in RUNTIME_GROUND:
        assert not _runtime_imports(name), name


def test_the_config_describes_the_parts_and_builds_none():
    """config.py sits below what it configures: the parts build themselves from it by name."""
    assert not _runtime_imports('config') & set(CONFIG_DESCRIBES)


def test_the_consumers_read_the_config_by_field_name_without_importing_it():
    for name in CONSUMERS:
        assert 'config' not in _runtime_imports(name), name


# -- the rooms' floors, and training's own floors (issue 18) --------------------------
ROOM_FLOORS = {'ros2_ssvif': 0, 'calibration': 1, 'training': 1, 'evaluation': 2,
               'simulation': 2, 'scripts': 3, 'benchmarks': 3}
#: one floor per training module (a package counts with everything in it); imports go down
TRAINING_FLOORS = (
    ('training.registry',),  # the names of the parts: imports no part
    ('training.config', 'training.gradients', 'training.logging', 'training.distributed',
     'training.hypergrad'),
    ('training.models', 'training.losses', 'training.weighting', 'training.data',
     'training.teachers', 'training.labels'),  # the parts a config selects, their data
    ('training.frameworks', 'training.caf.config', 'training.caf.build', 'training.checkpoint'),
    ('training.trainer', 'training.loop.step', 'training.caf.search', 'training.segmenter',
     'training.segmenter_recipe', 'training.fuse', 'training.export'),  # loops, tools
    ('training.cli', 'training.caf.cli'),  # commands
)


def _module_name(py: Path) -> str:
    parts = list(py.relative_to(REPO).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _training_floor(module: str) -> int | None:
    for floor, names in enumerate(TRAINING_FLOORS):
        if any(module == n or module.startswith(n + '.') for n in names):
            return floor
    return None


def test_rooms_import_only_their_own_floor_and_below():
    """Runtime at the ground; calibration, training; evaluation, simulation; scripts on top."""
    bad = []
    for room, floor in ROOM_FLOORS.items():
        for py in _files(room):
            for mod, _ in _imports(py):
                other = mod.split('.')[0]
                if other in ROOM_FLOORS and other != room and ROOM_FLOORS[other] >= floor:
                    if room == 'training' and mod.startswith('evaluation.metrics'):
                        continue  # the shared scores, checked above (issue 12)
                    bad.append(f'{py.relative_to(REPO)}: {mod}')
    assert not bad, 'imports up or sideways:\n' + '\n'.join(bad)


def test_training_modules_import_only_their_own_floor_and_below():
    """The registry and the config sit below the parts; the parts below the loops and commands."""
    bad, unplaced = [], []
    for py in _files('training'):
        name = _module_name(py)
        if name == 'training':
            continue
        floor = _training_floor(name)
        if floor is None:
            unplaced.append(name)
            continue
        for mod, _ in _imports(py):
            target = _training_floor(mod) if mod.startswith('training.') else None
            if target is not None and target > floor:
                bad.append(f'{name} (floor {floor}) imports {mod} (floor {target})')
    assert not unplaced, 'give these a floor in TRAINING_FLOORS: ' + ', '.join(unplaced)
    assert not bad, 'arrows up inside training:\n' + '\n'.join(bad)
