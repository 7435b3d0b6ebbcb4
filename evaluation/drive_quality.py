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
``evaluate_drive``: colour and flicker of fused video on a recorded drive.

    evaluate_drive --bag DRIVE --model MODEL.onnx [--registration R.yaml]
                   [--normalization running percentile ...] [--output DIR]

Still-image metrics cannot see what a driver sees first in fused video: a
picture that pumps. This replays a rosbag2 drive through the node's own
pairing and pipeline (``ros2_ssvif``) once per thermal normalisation mode,
for the model and for the max-luminance rule (the same rule
``compare_fusion`` reports; it gets the same registered, normalised
thermal), and reports per method and mode:

* **flicker**: mean absolute frame-to-frame change of the fused image
  (0-255 grey levels, after a 5x5 Gaussian so sensor noise does not count)
  over pixels where the scene is static: both registered sources changed by
  less than ``visible_tol`` grey levels / ``thermal_tol`` of the thermal
  frame's robust range. Whatever the fused image does there is the
  method's doing, e.g. a per-frame thermal stretch that re-grades the whole
  picture when a hot car enters. Reported as the mean over frame pairs and
  the worst frame pair (a single jump is what the eye notices).
* **ΔE**: mean CIEDE2000 between the fused and the registered visible
  image (``evaluation.metrics.color``), i.e. how much colour is lost.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
import sys
from typing import Callable, Sequence

import cv2
from evaluation.io import InputError
from evaluation.metrics.color import delta_e
import numpy as np
from ros2_ssvif.cli import run_command


__all__ = [
    'MaxLuminanceRule',
    'DriveScores',
    'evaluate_pairs',
    'iter_registered_pairs',
    'static_mask',
    'main',
]


class MaxLuminanceRule:
    """
    The model interface of ``FusionSegmenter`` for the rule Y = max(Y_vis, T).

    (rgb u8, t01) -> (rgb, ids).
    """

    class_names = ['none']

    def __call__(
        self, visible: np.ndarray, thermal01: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        ycc = cv2.cvtColor(visible, cv2.COLOR_RGB2YCrCb)
        t = np.clip(thermal01 * 255.0 + 0.5, 0, 255).astype(np.uint8)
        ycc[..., 0] = np.maximum(ycc[..., 0], t)
        return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB), np.zeros(visible.shape[:2], np.uint8)


def static_mask(prev_vis: np.ndarray, vis: np.ndarray, prev_thr: np.ndarray, thr: np.ndarray,
                visible_tol: float = 1.5, thermal_tol: float = 0.003) -> np.ndarray:
    """
    Mask the pixels where neither smoothed source changed.

    Visible by < ``visible_tol`` grey levels in every channel, thermal by < ``thermal_tol`` x the
    frame's 1-99 % range (in its own units).
    """
    blur = lambda a: cv2.GaussianBlur(np.asarray(a, np.float32), (5, 5), 0)  # noqa: E731
    dv = np.abs(blur(vis) - blur(prev_vis))
    dv = dv.max(axis=2) if dv.ndim == 3 else dv
    lo, hi = np.percentile(thr[::4, ::4], [1, 99])
    dt = np.abs(blur(thr) - blur(prev_thr))
    return (dv < visible_tol) & (dt < thermal_tol * max(float(hi - lo), 1e-6))


@dataclass
class DriveScores:
    frames: int = 0
    flicker: list[float] = field(default_factory=list)
    static_fraction: list[float] = field(default_factory=list)
    delta_e: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        mean = lambda v: float(np.mean(v)) if v else float('nan')  # noqa: E731
        return {'frames': self.frames, 'flicker': mean(self.flicker),
                'flicker_max': float(np.max(self.flicker)) if self.flicker else float('nan'),
                'static_fraction': mean(self.static_fraction), 'delta_e': mean(self.delta_e)}


def iter_registered_pairs(bag: str | Path, registrar, rgb_topic: str = '/rgb/image_raw',
                          thermal_topic: str = '/thermal/image_raw', slop: float = 0.05,
                          max_pairs: int | None = None):
    """
    Yield (registered visible u8, registered raw thermal) per stamp-paired frame.

    Frames of the drive, in order.
    """
    from ros2_ssvif.bag_io import iter_messages
    from ros2_ssvif.compressed import is_compressed, message_to_array
    from ros2_ssvif.image_codec import stamp_seconds
    from ros2_ssvif.pairing import ApproximatePairer

    ready: list = []
    pairer = ApproximatePairer(queue_size=20, slop=slop, on_pair=lambda v, t: ready.append((v, t)))
    n = 0
    for topic, _, msg in iter_messages(bag, [rgb_topic, thermal_topic]):
        pairer.add('visible' if topic == rgb_topic else 'thermal', stamp_seconds(msg.header), msg)
        while ready:
            v, t = ready.pop(0)
            vis, thr = message_to_array(v), message_to_array(t)  # sizes checked from headers
            if vis.ndim == 3 and not is_compressed(v) and v.encoding.startswith('bgr'):
                vis = np.ascontiguousarray(vis[..., 2::-1])
            yield registrar.register_pair(np.ascontiguousarray(vis[..., :3]), thr)
            n += 1
            if max_pairs is not None and n >= max_pairs:
                return


def evaluate_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray]], model: Callable, normalizer,
                   delta_e_every: int = 3) -> DriveScores:
    """
    Fuse a sequence of registered pairs with one normaliser state and score it.

    One normaliser state, as the node does.
    """
    scores = DriveScores()
    prev = None
    for i, (vis, thr) in enumerate(pairs):
        fused, _ = model(vis, normalizer(thr))
        if prev is not None:
            pv, pt, pf = prev
            mask = static_mask(pv, vis, pt, thr)
            scores.static_fraction.append(float(mask.mean()))
            if mask.any():
                blur = lambda a: cv2.GaussianBlur(a.astype(np.float32), (5, 5), 0)  # noqa: E731
                scores.flicker.append(
                    float(np.abs(blur(fused) - blur(pf)).max(axis=2)[mask].mean())
                )
        if i % max(1, delta_e_every) == 0:
            scores.delta_e.append(delta_e(fused, vis))
        prev = (vis, thr, fused)
        scores.frames += 1
    return scores


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='evaluate_drive', description=__doc__.strip().splitlines()[0])
    p.add_argument(
        '--bag', required=True, help='rosbag2 drive (raw rgb8/bgr8 + mono8/mono16 images)'
    )
    p.add_argument(
        '--model', default=None, help='exported bundle (.onnx); omit to score the rule only'
    )
    p.add_argument(
        '--registration', default=None, help='registration.yaml (omit for registered drives)'
    )
    p.add_argument('--normalization', nargs='+', default=['running', 'percentile'],
                   help='thermal normalisation modes to compare (ros2_ssvif.thermal)')
    p.add_argument('--rgb-topic', default='/rgb/image_raw')
    p.add_argument('--thermal-topic', default='/thermal/image_raw')
    p.add_argument('--max-pairs', type=int, default=None, help='score only the first N pairs')
    p.add_argument('--output', default=None, help='write summary.md here')
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command('evaluate_drive', lambda: _evaluate(args))


def _evaluate(args) -> int:
    from ros2_ssvif.model_runner import FusionSegmenter
    from ros2_ssvif.registration import load_registration, PassThroughRegistrar
    from ros2_ssvif.thermal import ThermalNormalizer

    registrar = (load_registration(args.registration).build_maps() if args.registration
                 else PassThroughRegistrar())
    methods: dict[str, Callable] = {'max-luminance': MaxLuminanceRule()}
    if args.model:
        methods = {Path(args.model).stem: FusionSegmenter(args.model), **methods}
    for mode in args.normalization:
        ThermalNormalizer(mode)  # validate before the long replay
    pairs = list(iter_registered_pairs(args.bag, registrar, args.rgb_topic, args.thermal_topic,
                                       max_pairs=args.max_pairs))
    if len(pairs) < 2:
        raise InputError(f'{len(pairs)} pair(s) in {args.bag}; need at least 2')
    lines = [
        f'Drive `{args.bag}`: {len(pairs)} pairs. '
        'Flicker: mean |ΔF| (grey levels) over static pixels; '
        'ΔE: CIEDE2000 to the registered visible image. Lower is better for both.',
        '',
        '| method | thermal normalisation | flicker (mean) | flicker (worst frame) '
        '| static pixels | ΔE |',
        '|---|---|---:|---:|---:|---:|',
    ]
    for name, model in methods.items():
        for mode in args.normalization:
            s = evaluate_pairs(pairs, model, ThermalNormalizer(mode)).summary()
            lines.append(f"| {name} | {mode} | {s['flicker']:.3f} | {s['flicker_max']:.2f} | "
                         f"{100 * s['static_fraction']:.1f} % | {s['delta_e']:.2f} |")
            print(lines[-1], flush=True)
    if args.output:
        Path(args.output).mkdir(parents=True, exist_ok=True)
        (Path(args.output) / 'summary.md').write_text('\n'.join(lines) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
