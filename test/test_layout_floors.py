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
bottom of training, the loop core above the parts, the loops above it, the
commands on top).
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
#: one floor per training module; a package counts with everything in it, except its modules
#: listed on a floor of their own (the longest name that matches places a module). Imports go
#: down or stay on their floor. A wing (``caf``, ``segmenter``, ``export``, ``fuse``) spans
#: floors: its parts where they belong, its command (``cli``) and public face on top.
TRAINING_FLOORS = (
    ('training.registry',),  # the names of the parts: imports no part
    ('training.config', 'training.gradients', 'training.logging', 'training.distributed',
     'training.hypergrad'),
    ('training.models', 'training.losses', 'training.weighting', 'training.data',
     'training.teachers', 'training.labels', 'training.caf.space'),  # the parts, their data
    ('training.frameworks', 'training.caf', 'training.checkpoint', 'training.loop'),  # plugins,
    # CAF's config and builders, the loop core and its step application
    ('training.trainer', 'training.caf.search', 'training.segmenter.model',
     'training.segmenter.train', 'training.segmenter.recipe', 'training.fuse.images',
     'training.export.onnx'),  # loops, tools
    ('training.cli', 'training.caf.cli', 'training.segmenter', 'training.export',
     'training.fuse', 'training.labels.cli'),  # commands, and the faces that export them
)


def _module_name(py: Path) -> str:
    parts = list(py.relative_to(REPO).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _training_floor(module: str) -> int | None:
    """Return the floor of the longest name in TRAINING_FLOORS that is ``module`` or holds it."""
    places = [(len(n), floor) for floor, names in enumerate(TRAINING_FLOORS) for n in names
              if module == n or module.startswith(n + '.')]
    return max(places)[1] if places else None


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


def test_a_wing_spans_floors_by_its_longest_listed_name():
    assert _training_floor('training.caf.space') == 2  # loss terms, with the other parts
    assert _training_floor('training.caf.build') == 3 == _training_floor('training.loop.core')
    assert _training_floor('training.caf.search') == 4 == _training_floor('training.trainer')
    assert _training_floor('training.caf.cli') == 5 == _training_floor('training.segmenter')
    assert _training_floor('training.labels.make') == 2 < _training_floor('training.labels.cli')


def test_the_framework_folder_holds_plugins_only():
    """Every module of training/frameworks registers a framework, but base (the plugin API)."""
    helpers = [py.name for py in sorted((REPO / 'training' / 'frameworks').glob('*.py'))
               if py.name not in ('__init__.py', 'base.py')
               and '@register_framework(' not in py.read_text()]
    assert not helpers, f'not plugins, move them out of training/frameworks: {helpers}'
