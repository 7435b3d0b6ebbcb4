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
``ssvif_build_engine``: build the TensorRT engine before a drive.

The first start of the node with a new model, GPU, precision or image size
builds a TensorRT engine, which takes minutes on a Jetson. Run this once
after installing a model (same options as the node: the registration gives
the image size) and the node starts in seconds from the cache
(``tensorrt.py`` explains the cache key).

    ssvif_build_engine --model model.onnx --registration calib/registration.yaml
    ssvif_build_engine --model model.onnx --size 640x480 --fp32 --device-id 1
"""
from __future__ import annotations

import argparse
import sys
import time

from ros2_ssvif.cli import parse_size, run_command
from ros2_ssvif.model_runner import FusionSegmenter, ModelError, tensorrt_plan
from ros2_ssvif.registration import load_registration


def _image_hw(args) -> tuple[int, int]:
    if args.size:
        w, h = parse_size(args.size, '--size')
        return h, w
    w, h = load_registration(args.registration).output_size
    return int(h), int(w)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='ssvif_build_engine',
                                 description=__doc__.strip().splitlines()[0])
    ap.add_argument('--model', required=True, help='the exported .onnx')
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument('--registration',
                      help='registration.yaml: its output size is the image size')
    size.add_argument('--size', metavar='WxH', help='the registered image size')
    ap.add_argument('--fp32', action='store_true', help='FP32 engine (default FP16, as the node)')
    ap.add_argument('--device-id', type=int, default=0, help='CUDA device (default 0)')
    ap.add_argument('--cache-dir', default='',
                    help='cache root (default $ROS_HOME/ros2_ssvif/trt, ~/.ros without ROS_HOME)')
    args = ap.parse_args(argv)
    return run_command('ssvif_build_engine', lambda: _build(args), plain=True)


def _build(args) -> int:
    image_hw = _image_hw(args)
    plan = tensorrt_plan(args.model, image_hw, not args.fp32, args.device_id, args.cache_dir)
    if plan is None:
        import onnxruntime as ort

        available = ', '.join(ort.get_available_providers())
        raise ModelError(f'TensorRT is not available in this onnxruntime build (providers: '
                         f'{available}); install onnxruntime-gpu with TensorRT (README, '
                         'Install)')
    cached = not plan.needs_build
    doing = 'loading' if cached else 'building'
    print(f'ssvif_build_engine: {doing} {plan.describe()}', flush=True)
    t0 = time.monotonic()
    model = FusionSegmenter(args.model, ('tensorrt', 'cuda', 'cpu'), 0, not args.fp32,
                            args.cache_dir, args.device_id, image_hw)
    seconds = time.monotonic() - t0
    for note in model.notes:
        print(f'ssvif_build_engine: {note}', file=sys.stderr)
    if model.engine_plan is None or plan.needs_build:
        used = ', '.join(model.providers)
        raise ModelError(f'no TensorRT engine was written to {plan.cache_dir} '
                         f'(session providers: {used})')
    done = 'loaded' if cached else 'built'
    print(f'ssvif_build_engine: engine {done} in {seconds:.1f} s; the node reuses it with '
          'the same model, GPU, precision and image size')
    return 0


if __name__ == '__main__':
    sys.exit(main())
