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
TensorRT on a real GPU: engine build, FP16/FP32 parity with the CPU, timing.

Run through scripts/gpu_check.sh. Each check prints one line; the script
exits 1 if a parity bound is broken, 0 otherwise, and 0 with
"skipped: <reason>" where there is no GPU or no TensorRT.

Bounds (fused image, 8-bit levels, against the CPU provider): FP32 at most
2 levels anywhere; FP16 at most 1 level on average and 8 at worst; class ids
agree on at least 99 % (FP32) and 97 % (FP16) of pixels (FP16 flips near-tie
argmaxes). These are the bounds this script states; they are unverified on a
GPU so far.
"""
from __future__ import annotations

import argparse
import ctypes
from pathlib import Path
import statistics
import sys
import tempfile
import time


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def skip(reason: str) -> int:
    print(f'gpu_check: skipped: {reason}')
    return 0


def why_not_here() -> str | None:
    """Explain why this machine cannot run the check; None when it can."""
    try:
        ctypes.CDLL('libcuda.so.1')
    except OSError:
        return 'no NVIDIA driver (libcuda.so.1 not found)'
    try:
        import onnxruntime as ort
    except ImportError:
        return 'onnxruntime is not installed'
    if 'TensorrtExecutionProvider' not in ort.get_available_providers():
        return (f'onnxruntime {ort.__version__} has no TensorRT provider '
                f"({', '.join(ort.get_available_providers())}); install onnxruntime-gpu")
    from ros2_ssvif.tensorrt import tensorrt_version

    if tensorrt_version() == 'none':
        return 'TensorRT (libnvinfer) is not installed'
    return None


def export_default(path: Path) -> Path:
    """Export the realtime backbone and a tiny SegFormer (random weights: parity needs none)."""
    import torch
    from training.export import export_onnx
    from training.models import build_fusion_model
    from training.models.segformer import SegmentationModel

    torch.manual_seed(0)
    export_onnx(build_fusion_model('realtime').eval(), SegmentationModel('tiny', 15).eval(), path,
                'fmb', sample_hw=(96, 128))
    return path


def timed_run(model, frames) -> tuple[list, float]:
    outs, times = [], []
    model(*frames[0])  # warm-up
    for vis, thr in frames:
        t0 = time.perf_counter()
        outs.append(model(vis, thr))
        times.append(time.perf_counter() - t0)
    return outs, 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='gpu_check', description=__doc__.strip().splitlines()[0])
    ap.add_argument('--model', help='exported .onnx (default: export one, needs torch)')
    ap.add_argument('--size', default='640x480', help='registered image size WxH')
    ap.add_argument('--frames', type=int, default=50)
    ap.add_argument('--device-id', type=int, default=0)
    args = ap.parse_args(argv)
    reason = why_not_here()
    if reason:
        return skip(reason)
    import numpy as np
    from ros2_ssvif.build_engine import main as build_engine
    from ros2_ssvif.model_runner import FusionSegmenter
    from ros2_ssvif.tensorrt import gpu_name, tensorrt_version

    w, h = (int(v) for v in args.size.lower().split('x'))
    work = Path(tempfile.mkdtemp(prefix='ssvif_gpu_check_'))
    model_path = Path(args.model) if args.model else export_default(work / 'model.onnx')
    print(f'gpu_check: {gpu_name(args.device_id)}, TensorRT {tensorrt_version()}, '
          f"model {model_path}, {w}x{h}, cache {work / 'trt'}")
    failed = False
    for precision in ('fp16', 'fp32'):
        extra = ['--fp32'] if precision == 'fp32' else []
        for attempt in ('build', 'cached'):
            t0 = time.monotonic()
            rc = build_engine(['--model', str(model_path), '--size', f'{w}x{h}', '--cache-dir',
                               str(work / 'trt'), '--device-id', str(args.device_id), *extra])
            print(f'gpu_check: {precision} engine {attempt}: rc {rc}, '
                  f'{time.monotonic() - t0:.1f} s')
            failed |= rc != 0
    rng = np.random.default_rng(0)
    frames = [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
               rng.random((h, w), dtype=np.float32)) for _ in range(args.frames)]
    cpu = FusionSegmenter(model_path, ['cpu'])
    ref, cpu_ms = timed_run(cpu, frames)
    print(f'gpu_check: cpu {cpu_ms:.1f} ms/frame (median)')
    bounds = {'fp32': (2, 2.0, 0.99), 'fp16': (8, 1.0, 0.97)}
    runs = [('cuda', ['cuda', 'cpu'], True), ('tensorrt fp32', ['tensorrt', 'cuda', 'cpu'], False),
            ('tensorrt fp16', ['tensorrt', 'cuda', 'cpu'], True)]
    for name, providers, fp16 in runs:
        model = FusionSegmenter(model_path, providers, 0, fp16, str(work / 'trt'),
                                args.device_id, (h, w))
        outs, ms = timed_run(model, frames)
        diffs = [np.abs(o[0].astype(int) - r[0]) for o, r in zip(outs, ref)]
        worst = max(int(d.max()) for d in diffs)
        mean = float(np.mean([d.mean() for d in diffs]))
        agree = float(np.mean([(o[1] == r[1]).mean() for o, r in zip(outs, ref)]))
        max_b, mean_b, agree_b = bounds['fp16' if name.endswith('fp16') else 'fp32']
        ok = worst <= max_b and mean <= mean_b and agree >= agree_b
        failed |= not ok
        print(f'gpu_check: {name} on {model.providers[0]}: {ms:.1f} ms/frame '
              f'({cpu_ms / ms:.1f}x cpu); fused vs cpu max {worst} mean {mean:.2f} levels, '
              f"class ids agree {100 * agree:.2f} % -> {'ok' if ok else 'FAILED'}")
        for note in model.notes:
            print(f'gpu_check:   note: {note}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
