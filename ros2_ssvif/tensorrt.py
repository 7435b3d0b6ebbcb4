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
TensorRT engine caching for ONNX Runtime's TensorRT execution provider.

Building a TensorRT engine takes minutes on a Jetson. ONNX Runtime can save
the engine and TensorRT's timing cache, but it does not know when a saved
engine is stale: a new model, another TensorRT, another GPU, FP16 versus
FP32, or another input size all need a new engine. So every engine gets its
own folder whose name says exactly that:

    $ROS_HOME/ros2_ssvif/trt/<model sha256>_trt<version>_<gpu>_<fp16|fp32>_<H>x<W>/

(``ROS_HOME`` defaults to ``~/.ros``, as in ROS 2.) The timing cache holds
per-layer kernel timings valid for any model on the same GPU and TensorRT,
so it lives in one shared folder per GPU and TensorRT version (ONNX Runtime
1.17 and newer; 1.16 keeps it beside the engine).

The node always sees one image size (the registration's output, padded to
the model's size divisor), so the optimisation profile is that one shape:
min = opt = max, the fastest engine TensorRT can build.

The TensorRT version and GPU name are read through the C ABI of libnvinfer
and the CUDA driver (ctypes), so no CUDA Python package is needed. None of
this runs on the CPU-only machines this project is tested on: the option
dictionaries are unit-tested, the GPU path is unverified there.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
import re


PRECISIONS = ('fp16', 'fp32')
# First ONNX Runtime release that knows trt_timing_cache_path (1.16 rejects
# unknown TensorRT options: the whole provider would fail to start).
TIMING_CACHE_PATH_SINCE = (1, 17)
_CU_ATTR_CC_MAJOR, _CU_ATTR_CC_MINOR = 75, 76  # CUdevice_attribute values in cuda.h


def default_cache_root() -> Path:
    """Return ``$ROS_HOME/ros2_ssvif/trt`` (``~/.ros/ros2_ssvif/trt`` without ROS_HOME)."""
    ros_home = os.environ.get('ROS_HOME') or os.path.join(os.path.expanduser('~'), '.ros')
    return Path(ros_home) / 'ros2_ssvif' / 'trt'


def model_digest(path: str | Path) -> str:
    """Hash the model file's bytes: sha256, first 16 hex digits."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()[:16]


def decode_nvinfer_version(v: int) -> str:
    """Decode NV_TENSORRT_VERSION: major*1000+minor*100+patch to 8.x, major*10000+... from 10."""
    if v >= 100000:
        return f'{v // 10000}.{(v // 100) % 100}.{v % 100}'
    return f'{v // 1000}.{(v // 100) % 10}.{v % 100}'


def tensorrt_version() -> str:
    """Read the TensorRT library's version ("8.6.2"); "none" where it is not installed."""
    for lib in ('libnvinfer.so.10', 'libnvinfer.so.8', 'libnvinfer.so'):
        try:
            nvinfer = ctypes.CDLL(lib)
            return decode_nvinfer_version(int(nvinfer.getInferLibVersion()))
        except (OSError, AttributeError):
            continue
    try:
        import tensorrt

        return str(tensorrt.__version__)
    except Exception:  # not installed, or its CUDA libraries are missing
        return 'none'


def gpu_name(device_id: int = 0) -> str:
    """
    Name the CUDA device and its compute capability ("Orin sm87"), via the driver API.

    Falls back to the Jetson board name from the device tree, then "no-gpu".
    """
    try:
        cuda = ctypes.CDLL('libcuda.so.1')
        dev, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        name = ctypes.create_string_buffer(256)
        if (cuda.cuInit(0) == 0 and cuda.cuDeviceGet(ctypes.byref(dev), int(device_id)) == 0
                and cuda.cuDeviceGetName(name, 256, dev) == 0):
            cuda.cuDeviceGetAttribute(ctypes.byref(major), _CU_ATTR_CC_MAJOR, dev)
            cuda.cuDeviceGetAttribute(ctypes.byref(minor), _CU_ATTR_CC_MINOR, dev)
            return f"{name.value.decode(errors='replace')} sm{major.value}{minor.value}"
    except (OSError, AttributeError):
        pass
    try:
        model = Path('/proc/device-tree/model').read_bytes().decode(errors='replace')
        return model.strip('\x00 \n') or 'no-gpu'
    except OSError:
        return 'no-gpu'


def _slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9.]+', '-', text).strip('-') or 'unknown'


@dataclass(frozen=True)
class EngineKey:
    """Everything a TensorRT engine depends on; one cache folder per key."""

    model_sha: str
    tensorrt: str
    gpu: str
    precision: str  # "fp16" or "fp32"
    input_hw: tuple[int, int] | None  # padded network input; None: known at the first frame

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {self.precision!r}')

    def folder_name(self) -> str:
        size = f'{self.input_hw[0]}x{self.input_hw[1]}' if self.input_hw else 'dynamic'
        return '_'.join([_slug(self.model_sha), 'trt' + _slug(self.tensorrt), _slug(self.gpu),
                         self.precision, size])


def profile_shapes(input_hw: tuple[int, int], visible_nhwc: bool = True) -> str:
    """Write one TensorRT optimisation profile shape for both inputs (ORT's string form)."""
    h, w = (int(v) for v in input_hw)
    vis = f'1x{h}x{w}x3' if visible_nhwc else f'1x3x{h}x{w}'
    return f'visible:{vis},thermal:1x1x{h}x{w}'


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r'\d+', version)[:2])


@dataclass(frozen=True)
class EnginePlan:
    """Where a model's engine lives and the provider options that use it."""

    key: EngineKey
    cache_dir: Path
    timing_cache_dir: Path
    options: dict

    @property
    def needs_build(self) -> bool:
        """Tell whether no engine is cached for this key: the next load builds one (minutes)."""
        return not any(self.cache_dir.glob('*.engine'))

    def describe(self) -> str:
        k = self.key
        size = f'{k.input_hw[0]}x{k.input_hw[1]}' if k.input_hw else "the first frame's size"
        return (f'TensorRT {k.tensorrt} engine, {k.precision}, {size}, on {k.gpu}, '
                f'cached in {self.cache_dir}')


def plan_engine(model_sha: str, input_hw: tuple[int, int] | None, *, fp16: bool = True,
                device_id: int = 0, cache_root: str | Path = '', ort_version: str = '1.16.3',
                visible_nhwc: bool = True, static_shapes: bool = False,
                trt_version: str | None = None, gpu: str | None = None) -> EnginePlan:
    """
    Choose the cache folders and TensorRT provider options for one model and input size.

    ``static_shapes``: the graph has a fixed input size, so no optimisation
    profile is given. ``trt_version`` and ``gpu`` are read from the machine
    when not given (tests pass them).
    """
    key = EngineKey(model_sha, trt_version if trt_version is not None else tensorrt_version(),
                    gpu if gpu is not None else gpu_name(device_id), 'fp16' if fp16 else 'fp32',
                    tuple(int(v) for v in input_hw) if input_hw else None)
    root = Path(cache_root).expanduser() if str(cache_root) else default_cache_root()
    cache_dir = root / key.folder_name()
    timing_dir = root / 'timing' / f'trt{_slug(key.tensorrt)}_{_slug(key.gpu)}'
    opts = {
        'device_id': str(int(device_id)),
        'trt_fp16_enable': str(bool(fp16)),
        'trt_engine_cache_enable': 'True',
        'trt_engine_cache_path': str(cache_dir),
        'trt_timing_cache_enable': 'True',
    }
    if _version_tuple(ort_version) >= TIMING_CACHE_PATH_SINCE:
        opts['trt_timing_cache_path'] = str(timing_dir)
    else:
        timing_dir = cache_dir
    if key.input_hw and not static_shapes:
        shape = profile_shapes(key.input_hw, visible_nhwc)
        opts.update({'trt_profile_min_shapes': shape, 'trt_profile_opt_shapes': shape,
                     'trt_profile_max_shapes': shape})
    return EnginePlan(key, cache_dir, timing_dir, opts)


def make_cache_dirs(plan: EnginePlan) -> None:
    """Create the cache folders: ONNX Runtime does not create the folders it writes to."""
    plan.cache_dir.mkdir(parents=True, exist_ok=True)
    plan.timing_cache_dir.mkdir(parents=True, exist_ok=True)
