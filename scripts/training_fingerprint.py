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
blend), once more with RLW and the dense residual backbone, the supervised
frameworks SegMiF and MultiTaskVIF on the captures' labels and, with
``--roadscene``, on 24 real RoadScene training pairs, and prints
JSON: every logged scalar but the throughput (exact ``repr`` of each float)
and a SHA-256 of every tensor of ``last.pt`` and ``best.pt``, per run; a
digest of the registered images; and one of CAF's loss terms, their
weighted sum and its gradient on fixed random images.

The two other training loops are fingerprinted the same way, on small
in-memory sets: the segmenter training (``train_segmenter``: fused pairs
with crops, flips, a frozen-encoder phase and mIoU validation; made images
with ``set_epoch``, a ``validate`` callback, early stopping and the
printed progress lines) and CAF's loss search (``LossSearch``: a full
search and one killed after an epoch and resumed). The loss search moved
between trees (``training.loss_search`` -> ``training.caf.search``), so
those names are looked up in both places.
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
LOOPS = ('segmenter', 'loss_search')  # the other training loops, on in-memory sets
RUNS = {
    'ssvif_demo': [],
    'ssvif_rlw_dense': ['weighting.name=rlw', 'weighting.options={}',
                        'model.backbone=dense_residual',
                        'model.backbone_kwargs={width: 8, blocks: 1}'],
    # supervised: labelled data and collation, several optimizers, alternating rounds
    'segmif_labelled': ['framework=segmif', 'model.backbone=segmif', 'model.seg_classes=15',
                        'model.backbone_kwargs={semantic: segformer, segformer: tiny, '
                        'num_classes: 15, width: 8, growth: 4, layers: 2, heads: 2}',
                        'weighting.name=segmif', 'weighting.options={relative: false}',
                        'framework_options={fusion_steps: 2, seg_steps: 2}',
                        'grad_analysis=false'],
    'multitaskvif_labelled': ['framework=multitaskvif', 'model.decoder=mth',
                              'model.decoder_kwargs={width: 8, heads: 2}', 'model.seg_classes=15',
                              'weighting.name=fixed', 'weighting.options={omega_csc: 1.0}'],
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


def _first_import(name: str, *modules: str):
    """Return ``name`` from the first of ``modules`` that has it (names move between trees)."""
    import importlib

    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f'{name} is in none of {", ".join(modules)}')


def _digest(obj) -> str:
    h = hashlib.sha256()
    _tensor_digest(obj, h)
    return h.hexdigest()[:24]


def _history(history: list[dict]) -> list[dict]:
    return [{k: repr(v) for k, v in sorted(h.items())} for h in history]


def caf_terms_digest() -> dict:
    """Every CAF loss term, their beta-weighted sum and its gradient on fixed random images."""
    import torch

    space_modules = ('training.caf.space', 'training.losses.caf_space')
    CAFLossSpace = _first_import('CAFLossSpace', *space_modules)
    TERMS = _first_import('TERMS', *space_modules)

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


def _squares(n: int, size: int, seed: int, image: bool = False):
    """Bright squares are class 9 (car), the rest class 1 (road); ``image``: made images."""
    import torch

    class Squares(torch.utils.data.Dataset):

        def __init__(self):
            g = torch.Generator().manual_seed(seed)
            self.items, self.epochs = [], []
            for _ in range(n):
                lab = torch.ones(size, size, dtype=torch.long)
                y, x = (int(v) for v in torch.randint(0, size - 12, (2,), generator=g))
                lab[y:y + 12, x:x + 12] = 9
                lab[:2] = 255  # ignored pixels
                vis = 0.2 + 0.1 * torch.rand(3, size, size, generator=g)
                vis[:, lab == 9] = 0.9
                ir = torch.rand(1, size, size, generator=g)
                self.items.append({'image': vis, 'label': lab} if image else
                                  {'visible': vis, 'thermal': ir, 'label': lab})

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            it = dict(self.items[i])
            if image and self.epochs:  # what set_epoch changes: the made image
                it['image'] = (it['image'] + 0.01 * self.epochs[-1]).clamp(0, 1)
            return it

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    return Squares()


def segmenter_runs(out: Path) -> dict:
    """Two short segmenter trainings (``train_segmenter``): on fused pairs and on made images."""
    import io

    import torch
    from training.checkpoint import load_checkpoint
    from training.segmenter import SegmenterConfig, train_segmenter

    torch.set_num_threads(1)

    class TinyFusion(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.mix = torch.nn.Conv2d(4, 3, 1)

        def forward(self, visible, thermal):
            fused = torch.sigmoid(self.mix(torch.cat([visible, thermal], 1)))
            return type('Out', (), {'fused': fused})()

    def report(res, printed: str = '') -> dict:
        state = load_checkpoint(res.checkpoint)
        return {'history': _history(res.history), 'best_miou': repr(res.best_miou),
                'model': _digest(res.model.state_dict()),
                'checkpoint': {k: _digest(state[k]) for k in sorted(state)},
                'printed': printed.splitlines()}

    torch.manual_seed(11)
    fusion = TinyFusion()
    cfg = SegmenterConfig(variant='compact', width=8, epochs=3, freeze_epochs=1, batch_size=4,
                          lr=3e-3, lr_unfrozen=1e-3, crop=32, max_steps_per_epoch=2,
                          object_weight=2.0, scale=0.5, seed=5)
    pairs = train_segmenter(fusion, _squares(12, 48, 0), _squares(3, 48, 1), cfg,
                            out / 'seg_pairs.pt', progress=False)
    scores = iter([0.5, 0.6, 0.55, 0.58, 0.9, 0.95])

    def validate(model):  # a rise, two epochs without one: stop, keep epoch 2's weights
        model(torch.zeros(1, 3, 32, 32))  # the model is callable in eval mode
        return next(scores)

    cfg = SegmenterConfig(variant='compact', width=8, epochs=6, freeze_epochs=0, batch_size=3,
                          crop=None, patience=2, seed=2)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        images = train_segmenter(None, _squares(7, 32, 4, image=True), None, cfg,
                                 out / 'seg_images.pt', progress=True, validate=validate,
                                 source_fingerprint='feedface')
    return {'pairs': report(pairs), 'images': report(images, printed.getvalue())}


def loss_search_runs(out: Path) -> dict:
    """Search CAF's loss (``LossSearch``) for two epochs, and for one resumed to two."""
    import torch
    from training.checkpoint import load_checkpoint

    LossSearch = _first_import('LossSearch', 'training.caf.search', 'training.loss_search')
    load_caf_config = _first_import('load_caf_config', 'training.caf.config',
                                    'training.caf_config')
    import training

    torch.set_num_threads(1)
    repo = Path(training.__file__).resolve().parents[1]  # the tree under test

    class Pairs(torch.utils.data.Dataset):

        def __init__(self, n: int, seed: int):
            g = torch.Generator().manual_seed(seed)
            self.v = torch.rand(n, 3, 32, 32, generator=g)
            self.t = torch.rand(n, 1, 32, 32, generator=g)

        def __len__(self):
            return len(self.v)

        def __getitem__(self, i):
            return {'visible': self.v[i], 'thermal': self.t[i], 'name': f's{i}',
                    'label': (self.t[i, 0] > 0.5).long()}

    data = (Pairs(6, 0), Pairs(2, 1))  # the search-validation set is cycled

    def search(name: str, epochs: int, resume=None) -> dict:
        cfg = load_caf_config(repo / 'config' / 'training' / 'caf_search.yaml', [
            'data.crop=24', 'data.batch_size=2', 'task.width=4', 'task.num_classes=2',
            'model.backbone_kwargs={width: 4, growth: 4, layers: 1, blocks: 1}',
            'space.searched=[l1_ir, l1_vis, l1_max, mse_ir, mse_vis, grad_max, l1_mask_ir]',
            'space.fixed={mse_mask_ir: 0.5}', 'search.max_steps_per_epoch=3',
            f'search.epochs={epochs}', f'output_dir={out / name}'])
        res = LossSearch(cfg, datasets=data).run(resume=resume)
        state = load_checkpoint(out / name / 'last.pt')
        beta = (out / name / 'beta.yaml').read_text()
        return {'history': _history(res.history),
                'beta': {k: repr(v) for k, v in res.beta.items()},
                'beta_yaml_sha256': hashlib.sha256(beta.replace(str(out / name), '').encode())
                .hexdigest()[:24],
                'scalars_sha256': hashlib.sha256((out / name / 'scalars.csv').read_bytes())
                .hexdigest()[:24],
                'last': {k: _digest(state[k]) for k in sorted(state) if k != 'caf_config'}}

    full = search('full', 2)
    search('cut', 1)
    return {'full': full, 'resumed': search('cut', 2, resume='auto')}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--output', type=Path, required=True, help='scratch folder (replaced)')
    ap.add_argument('--count', type=int, default=8, help='synthetic captures')
    ap.add_argument('--seed', type=int, default=3)
    ap.add_argument('--only', choices=sorted(RUNS) + list(LOOPS), action='append',
                    help='these runs only')
    ap.add_argument('--roadscene', type=Path,
                    help='also train on these real pairs (vi/, ir/, train_split.txt; e.g. '
                         '../shared/data/ivf_roadscene221), 24 of the training split')
    args = ap.parse_args(argv)
    shutil.rmtree(args.output, ignore_errors=True)
    args.output.mkdir(parents=True)
    report = {}
    ssvif = [name for name in RUNS if not args.only or name in args.only]
    if ssvif:
        data = make_data(args.output / 'data', args.count, args.seed)
        files = hashlib.sha256()
        for f in sorted(data.rglob('*.png')):
            files.update(f.relative_to(data).as_posix().encode() + f.read_bytes())
        report.update({name: run(name, RUNS[name], data, args.output / 'runs') for name in ssvif})
        report['registered_data_sha256'] = files.hexdigest()
    if args.roadscene:
        report['ssvif_roadscene'] = run(
            'ssvif_roadscene', ['data.list_file=train_split.txt', 'data.max_samples=24'],
            args.roadscene, args.output / 'runs', kind='pairs')
    report['caf_terms'] = caf_terms_digest()
    loops = {'segmenter': segmenter_runs, 'loss_search': loss_search_runs}
    for name in LOOPS:
        if not args.only or name in args.only:
            report[name] = loops[name](args.output / name)
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
