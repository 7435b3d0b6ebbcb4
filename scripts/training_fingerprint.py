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
Fingerprint a short SSVIF training on synthetic data, to prove a refactor changed nothing.

    python scripts/training_fingerprint.py --output /tmp/fp [--roadscene DIR] > before.json
    # check out the refactor (or point PYTHONPATH at the other tree), then
    python scripts/training_fingerprint.py --output /tmp/fp2 [--roadscene DIR] > after.json
    diff before.json after.json     # empty: bit-identical losses and weights

Why a script and not only a test: a refactor of the training code is proved
by comparing two trees, the commit before and the commit after, and a test
only ever sees one. This file uses public names that both sides have
(``simulation``, the ``register`` command, ``load_config``, ``train``).

It renders labelled synthetic captures (the demo's simulator), registers
them with the rig's true registration through ``register``, trains SSVIF
for a few steps with the demo's settings (GDWA, realtime backbone, luma
blend), once more with RLW and the dense residual backbone and, with
``--roadscene``, on 24 real RoadScene training pairs, and prints
JSON: every logged scalar but the throughput (exact ``repr`` of each float)
and a SHA-256 of every tensor of ``last.pt`` and ``best.pt``, per run; a
digest of the registered images; and one of CAF's loss terms, their
weighted sum and its gradient on fixed random images.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
from pathlib import Path
import shutil
import sys


TIMING = 'per_s'  # samples per second: the one logged value that is a measurement of time
RUNS = {
    'ssvif_demo': [],
    'ssvif_rlw_dense': ['weighting.name=rlw', 'weighting.options={}',
                        'model.backbone=dense_residual',
                        'model.backbone_kwargs={width: 8, blocks: 1}'],
}


def _tensor_digest(obj, h) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b'')
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            h.update(str(k).encode())
            _tensor_digest(obj[k], h)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _tensor_digest(v, h)
    else:
        h.update(repr(obj).encode())


def _checkpoint_digest(path: Path) -> dict:
    from training.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    out = {}
    for key in sorted(state):
        if key in ('config', 'output_dir', 'history'):
            continue  # paths differ between two output folders, history holds timings
        h = hashlib.sha256()
        _tensor_digest(state[key], h)
        out[key] = h.hexdigest()[:24]
    return out


def make_data(out: Path, count: int, seed: int) -> Path:
    from calibration.register_cli import main as register_main
    from simulation.dataset import write_raw_captures
    from simulation.registration_truth import truth_registration
    from simulation.rig import default_rig

    rig = default_rig()
    raw, dest = out / 'raw', out / 'registered'
    out.mkdir(parents=True, exist_ok=True)
    truth_registration(rig).save(out / 'registration.yaml')
    write_raw_captures(raw, rig, count, seed=seed)
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the JSON report
        rc = register_main(['--calibration', str(out / 'registration.yaml'),
                            '--visible', str(raw / 'visible'), '--thermal', str(raw / 'thermal'),
                            '--labels', str(raw / 'labels'), '--output', str(dest)])
    if rc != 0:
        raise SystemExit(f'register failed ({rc})')
    return dest


def run(name: str, extra: list[str], data: Path, out: Path,
        kind: str = 'synthetic_folder') -> dict:
    import torch
    import training
    from training.config import load_config
    from training.trainer import train

    torch.set_num_threads(1)  # the reductions' order must not depend on the machine's load
    repo = Path(training.__file__).resolve().parents[1]  # the tree under test
    cfg = load_config(repo / 'config' / 'training' / 'demo.yaml', [
        f'data.kind={kind}', f'data.root={data}', 'data.crop=48', 'data.batch_size=2',
        'model.in_channels=1', 'model.output=blend', 'optim.lr=2e-3', 'epochs=3',
        'stage1_max_epochs=1', 'max_steps_per_epoch=3', 'grid_samples=0',
        f'output_dir={out / name}', *extra])
    result = train(cfg, progress=False)
    scalars = [ln for ln in (out / name / 'scalars.csv').read_text().splitlines()
               if TIMING not in ln]
    return {
        'history': [{k: repr(v) for k, v in sorted(h.items()) if TIMING not in k}
                    for h in result.history],
        'scalars_sha256': hashlib.sha256('\n'.join(scalars).encode()).hexdigest(),
        'scalar_rows': len(scalars),
        'last': _checkpoint_digest(Path(result.last_checkpoint)),
        'best': _checkpoint_digest(Path(result.best_checkpoint)) if result.best_checkpoint
        else None,
    }


def caf_terms_digest() -> dict:
    """Every CAF loss term, their beta-weighted sum and its gradient on fixed random images."""
    import torch
    from training.losses.caf_space import CAFLossSpace, TERMS

    g = torch.Generator().manual_seed(7)
    fused = torch.rand(2, 3, 40, 48, generator=g).requires_grad_(True)
    ir, vis = torch.rand(2, 1, 40, 48, generator=g), torch.rand(2, 3, 40, 48, generator=g)
    space = CAFLossSpace(searched=[t for t in TERMS if not t.startswith('per_')], fixed={})
    terms = space.terms(fused, ir, vis)
    total = space.total(terms, space.beta(torch.linspace(-1.0, 1.0, len(space.searched))))
    total.backward()
    h = hashlib.sha256()
    _tensor_digest({**{k: v.detach() for k, v in terms.items()}, 'total': total.detach(),
                    'grad': fused.grad}, h)
    return {'terms': list(terms), 'sha256': h.hexdigest()[:24]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--output', type=Path, required=True, help='scratch folder (replaced)')
    ap.add_argument('--count', type=int, default=8, help='synthetic captures')
    ap.add_argument('--seed', type=int, default=3)
    ap.add_argument('--only', choices=sorted(RUNS), action='append', help='these runs only')
    ap.add_argument('--roadscene', type=Path,
                    help='also train on these real pairs (vi/, ir/, train_split.txt; e.g. '
                         '../shared/data/ivf_roadscene221), 24 of the training split')
    args = ap.parse_args(argv)
    shutil.rmtree(args.output, ignore_errors=True)
    args.output.mkdir(parents=True)
    data = make_data(args.output / 'data', args.count, args.seed)
    files = hashlib.sha256()
    for f in sorted(data.rglob('*.png')):
        files.update(f.relative_to(data).as_posix().encode() + f.read_bytes())
    report = {name: run(name, extra, data, args.output / 'runs')
              for name, extra in RUNS.items() if not args.only or name in args.only}
    if args.roadscene:
        report['ssvif_roadscene'] = run(
            'ssvif_roadscene', ['data.list_file=train_split.txt', 'data.max_samples=24'],
            args.roadscene, args.output / 'runs', kind='pairs')
    report['registered_data_sha256'] = files.hexdigest()
    report['caf_terms'] = caf_terms_digest()
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
