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
TensorRT provider options and engine cache keys (no GPU needed).

What ONNX Runtime receives is checked key by key; the GPU path itself runs
only in scripts/gpu_check.sh on a machine with TensorRT.
"""
from pathlib import Path

import pytest
from ros2_ssvif.build_engine import main as build_engine_main
from ros2_ssvif.model_runner import engine_plan_for, ModelMetadata
from ros2_ssvif.tensorrt import (
    decode_nvinfer_version,
    default_cache_root,
    EngineKey,
    model_digest,
    plan_engine,
    profile_shapes,
)
from toy_model import write_toy_model


MACHINE = {'trt_version': '8.6.2', 'gpu': 'Orin sm87'}


def test_cache_root_follows_ros_home(monkeypatch, tmp_path):
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'roshome'))
    assert default_cache_root() == tmp_path / 'roshome' / 'ros2_ssvif' / 'trt'
    monkeypatch.delenv('ROS_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert default_cache_root() == tmp_path / 'home' / '.ros' / 'ros2_ssvif' / 'trt'


def test_options_for_onnx_runtime_1_16(tmp_path):
    plan = plan_engine('0123456789abcdef', (480, 640), fp16=True, device_id=1,
                       cache_root=tmp_path, ort_version='1.16.3', **MACHINE)
    folder = tmp_path / '0123456789abcdef_trt8.6.2_Orin-sm87_fp16_480x640'
    shape = 'visible:1x480x640x3,thermal:1x1x480x640'
    assert plan.options == {
        'device_id': '1', 'trt_fp16_enable': 'True', 'trt_engine_cache_enable': 'True',
        'trt_engine_cache_path': str(folder), 'trt_timing_cache_enable': 'True',
        'trt_profile_min_shapes': shape, 'trt_profile_opt_shapes': shape,
        'trt_profile_max_shapes': shape}
    assert plan.cache_dir == folder and plan.timing_cache_dir == folder  # 1.16: beside the engine


def test_timing_cache_is_shared_from_onnx_runtime_1_17(tmp_path):
    plan = plan_engine('0123456789abcdef', (480, 640), fp16=False, cache_root=tmp_path,
                       ort_version='1.17.0', **MACHINE)
    assert plan.options['trt_timing_cache_path'] == str(tmp_path / 'timing' / 'trt8.6.2_Orin-sm87')
    assert plan.options['trt_fp16_enable'] == 'False' and plan.options['device_id'] == '0'


def test_every_ingredient_changes_the_cache_folder(tmp_path):
    base = {
        'model_sha': 'aaaa',
        'input_hw': (480, 640),
        'fp16': True,
        'trt_version': '8.6.2',
        'gpu': 'Orin',
    }

    def folder(**change):
        kw = {**base, **change}
        return plan_engine(kw.pop('model_sha'), kw.pop('input_hw'), cache_root=tmp_path,
                           **kw).cache_dir

    variants = [
        folder(),
        folder(model_sha='bbbb'),
        folder(trt_version='10.3.0'),
        folder(gpu='GeForce RTX 4090 sm89'),
        folder(fp16=False),
        folder(input_hw=(512, 640)),
    ]
    assert len(set(variants)) == len(variants)
    assert folder() == folder()  # and nothing else: the same inputs find the same engine


def test_profile_comes_from_the_registered_size_padded_like_the_runtime(tmp_path):
    model = write_toy_model(tmp_path / 'm.onnx', size_divisor=32)
    meta = ModelMetadata(['a'], [(0, 0, 0)], size_divisor=32)
    plan = engine_plan_for(model, meta, 'nhwc_uint8', (600, 800), True, 0, tmp_path, '1.16.3',
                           **MACHINE)
    assert plan.options['trt_profile_opt_shapes'] == 'visible:1x608x800x3,thermal:1x1x608x800'
    assert plan.key == EngineKey(model_digest(model), '8.6.2', 'Orin sm87', 'fp16', (608, 800))
    legacy = engine_plan_for(model, meta, 'nchw_float', (600, 800), True, 0, tmp_path, '1.16.3',
                             **MACHINE)
    assert legacy.options['trt_profile_min_shapes'].startswith('visible:1x3x608x800,')


def test_fixed_size_models_get_no_profile_and_unknown_sizes_a_dynamic_key(tmp_path):
    model = write_toy_model(tmp_path / 'm.onnx')
    fixed = ModelMetadata(['a'], [(0, 0, 0)], 256, 320)
    plan = engine_plan_for(model, fixed, 'nhwc_uint8', None, True, 0, tmp_path, '1.16.3',
                           **MACHINE)
    assert plan.key.input_hw == (256, 320)
    assert not any(k.startswith('trt_profile') for k in plan.options)
    dyn = engine_plan_for(model, ModelMetadata(['a'], [(0, 0, 0)]), 'nhwc_uint8', None, True, 0,
                          tmp_path, '1.16.3', **MACHINE)
    assert (
        dyn.cache_dir.name.endswith('_fp16_dynamic')
        and 'trt_profile_opt_shapes' not in dyn.options
    )


def test_needs_build_until_an_engine_is_in_the_folder(tmp_path):
    plan = plan_engine('cafe', (64, 64), cache_root=tmp_path, **MACHINE)
    assert plan.needs_build
    plan.cache_dir.mkdir(parents=True)
    (
        plan.cache_dir / 'TensorrtExecutionProvider_TRTKernel_graph_main_0_0_fp16.engine'
    ).write_bytes(b'x')
    assert not plan.needs_build


def test_model_digest_is_the_files_sha256(tmp_path):
    import hashlib

    p = tmp_path / 'm.bin'
    p.write_bytes(b'ros2_ssvif' * 1000)
    assert model_digest(p) == hashlib.sha256(b'ros2_ssvif' * 1000).hexdigest()[:16]


@pytest.mark.parametrize('raw,text', [(8602, '8.6.2'), (8510, '8.5.10'), (100300, '10.3.0'),
                                      (101100, '10.11.0')])
def test_libnvinfer_version_numbers(raw, text):
    assert decode_nvinfer_version(raw) == text


def test_profile_shape_strings():
    assert profile_shapes((480, 640)) == 'visible:1x480x640x3,thermal:1x1x480x640'
    assert (
        profile_shapes((480, 640), visible_nhwc=False) == 'visible:1x3x480x640,thermal:1x1x480x640'
    )


def test_precision_is_checked():
    with pytest.raises(ValueError, match='precision'):
        EngineKey('a', '8.6.2', 'gpu', 'int8', None)


def test_build_engine_without_tensorrt_is_one_line(toy_model_path, capsys):
    rc = build_engine_main(['--model', str(toy_model_path), '--size', '64x48'])
    err = capsys.readouterr().err
    assert rc == 2 and err.count('\n') == 1
    assert err.startswith(
        'ssvif_build_engine: TensorRT is not available in this onnxruntime build'
    )


@pytest.mark.parametrize('args,text', [(['--size', '64by48'], '--size must be WIDTHxHEIGHT'),
                                       (['--size', '0x48'], '--size must be positive')])
def test_build_engine_bad_size_is_one_line(toy_model_path, capsys, args, text):
    assert build_engine_main(['--model', str(toy_model_path)] + args) == 2
    err = capsys.readouterr().err
    assert text in err and err.count('\n') == 1


def test_build_engine_missing_model_is_one_line(tmp_path, capsys):
    rc = build_engine_main(['--model', str(tmp_path / 'none.onnx'), '--size', '64x48'])
    err = capsys.readouterr().err
    assert (
        rc == 2 and err == f"ssvif_build_engine: model file not found: {tmp_path / 'none.onnx'}\n"
    )


def test_gpu_check_skips_with_its_reason_without_a_gpu(repo_root):
    import subprocess
    import sys

    r = subprocess.run(['bash', 'scripts/gpu_check.sh'], cwd=repo_root, capture_output=True,
                       text=True, env={'SSVIF_VENV': str(Path(sys.executable).parents[1]),
                                       'PATH': '/usr/bin:/bin'})
    if 'skipped:' not in r.stdout:
        pytest.skip('this machine has a GPU and TensorRT: run scripts/gpu_check.sh itself')
    assert r.returncode == 0 and r.stdout.startswith('gpu_check: skipped: ')
    assert r.stdout.count('\n') == 1
