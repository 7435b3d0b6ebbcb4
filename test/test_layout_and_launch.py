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

"""The house rules that a reviewer would otherwise check by hand."""
import ast
from pathlib import Path
import subprocess
import sys

from launch_stub import run_launch_file
import pytest
from ros2_ssvif.config import FusionConfig, read_params_file
import yaml


REPO = Path(__file__).resolve().parents[1]
NON_PARAMETER_ARGUMENTS = {'params_file', 'namespace', 'use_sim_time', 'lifecycle', 'rgb_topic',
                           'thermal_topic', 'fused_topic', 'camera_info_topic', 'mask_topic',
                           'color_mask_topic', 'overlay_topic', 'label_info_topic'}
TRAINING_ONLY = {
    'training',
    'torch',
    'kornia',
    'transformers',
    'pytorch_msssim',
    'onnx',
    'onnxscript',
    'matplotlib',
    'skimage',
    'scipy',
    'evaluation',
    'calibration',
    'simulation',
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split('.')[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module.split('.')[0])
    return mods


def test_runtime_never_imports_training_or_its_dependencies():
    for py in (REPO / 'ros2_ssvif').rglob('*.py'):
        bad = imported_modules(py) & TRAINING_ONLY
        assert not bad, f'{py.relative_to(REPO)} imports {sorted(bad)}'


def test_runtime_imports_with_training_dependencies_absent():
    """A vehicle install has no torch: block it and import every runtime module."""
    code = (
        'import sys, importlib, pkgutil\n'
        f'blocked = {sorted(TRAINING_ONLY)!r}\n'
        'class Block:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        "        if name.split('.')[0] in blocked: raise ImportError('blocked: ' + name)\n"
        'sys.meta_path.insert(0, Block())\n'
        'import ros2_ssvif\n'
        'for m in pkgutil.iter_modules(ros2_ssvif.__path__):\n'
        "    importlib.import_module('ros2_ssvif.' + m.name)\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and r.stdout.strip() == 'ok', r.stderr


def test_config_file_node_parameters_and_launch_arguments_agree(monkeypatch):
    params = read_params_file(REPO / 'config' / 'fusion.yaml')
    assert set(params) == set(FusionConfig().to_dict())
    FusionConfig.from_dict(params)  # the shipped defaults are valid
    # the launch file derives its arguments from the dataclass: run it to see them
    declared = run_launch_file(monkeypatch).arguments
    launch_args = [n for n in declared if n not in NON_PARAMETER_ARGUMENTS]
    assert set(launch_args) == set(params)
    assert len(launch_args) == len(set(launch_args))


def test_launch_file_runs_where_launch_is_installed():
    launch = pytest.importorskip(
        'launch', reason='ROS 2 launch is not installable from pip here; checked statically above'
    )
    pytest.importorskip('launch_ros', reason='launch_ros is not installable from pip here')
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        'fusion_launch', REPO / 'launch' / 'fusion.launch.py'
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert isinstance(mod.generate_launch_description(), launch.LaunchDescription)


def test_package_xml_and_setup_cfg_follow_ament_python():
    xml = (REPO / 'package.xml').read_text()
    assert 'format="3"' in xml and '<build_type>ament_python</build_type>' in xml
    cfg = (REPO / 'setup.cfg').read_text()
    assert (
        'script_dir=$base/lib/ros2_ssvif' in cfg and 'install_scripts=$base/lib/ros2_ssvif' in cfg
    )
    assert (REPO / 'resource' / 'ros2_ssvif').is_file()


def test_console_scripts_resolve_to_functions():
    import importlib

    setup = (REPO / 'setup.py').read_text()
    entries = [
        line.strip().strip('"\',')
        for line in setup.splitlines()
        if ' = ' in line and ':' in line and '.' in line and line.strip()[:1] in ('"', "'")
    ]
    assert {e.split(' = ')[0] for e in entries} >= {
        'fusion_node',
        'process_bag',
        'calibrate',
        'register',
        'ssvif_train',
        'ssvif_export',
        'evaluate_fusion',
    }
    for e in entries:
        mod, fn = e.split(' = ')[1].split(':')
        assert callable(getattr(importlib.import_module(mod), fn)), e


def test_training_requirements_pin_the_cpu_torch():
    assert 'torch==2.13.0' in (REPO / 'requirements' / 'training.txt').read_text().split()
    runtime = [
        line.split('==')[0].lower()
        for line in (REPO / 'requirements' / 'runtime.txt').read_text().splitlines()
        if line and not line.startswith('#')
    ]
    assert 'torch' not in runtime and 'cv-bridge' not in runtime and 'cv_bridge' not in runtime


def test_launch_arguments_are_converted_to_the_parameter_type():
    """
    `slop:=1` arrives as the float 1.0.

    Launch is not installable here: the function is run alone.
    """
    tree = ast.parse((REPO / 'launch' / 'fusion.launch.py').read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == '_typed')
    scope = {'yaml': yaml}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), 'fusion.launch.py', 'exec'), scope)
    from ros2_ssvif.config import parameter_specs

    kinds = {s.name: s.kind for s in parameter_specs()}
    typed = scope['_typed']
    assert typed('slop', '1', kinds) == 1.0 and isinstance(typed('slop', '1', kinds), float)
    assert typed('queue_size', '7', kinds) == 7 and typed('providers', '[cuda, cpu]', kinds) == [
        'cuda',
        'cpu',
    ]
    assert (
        typed('model_path', '123', kinds) == '123'
        and typed('publish_overlay', 'true', kinds) is True
    )
    cfg = FusionConfig.from_dict(
        {k: typed(k, v, kinds) for k, v in (('slop', '1'), ('queue_size', '7'))}
    )
    assert cfg.slop == 1.0


def _single_quoted(text: str) -> str:
    """Return ``text`` with double quotes as single ones, so a check accepts either style."""
    return text.replace('"', "'")


def test_lifecycle_node_is_a_console_script_and_the_launch_can_start_it():
    setup = _single_quoted((REPO / 'setup.py').read_text())
    assert "'fusion_lifecycle_node = ros2_ssvif.fusion_lifecycle_node:main'" in setup
    launch_text = _single_quoted((REPO / 'launch' / 'fusion.launch.py').read_text())
    assert "'fusion_lifecycle_node' if lifecycle else 'fusion_node'" in launch_text
    assert '<exec_depend>lifecycle_msgs</exec_depend>' in (REPO / 'package.xml').read_text()
