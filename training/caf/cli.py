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

r"""
``ssvif_search_loss``: CAF's loss search, then the hierarchical retraining with the found loss.

    ssvif_search_loss --config config/training/caf_search.yaml --data-root LABELLED_SET \
        --retrain-data-root PAIRS --output out/caf [--resume auto] [--no-retrain]

1. Search (``training.caf.search``): beta over the configured terms on a
   labelled set, written to ``OUTPUT/search/beta.yaml``; the log
   ``OUTPUT/search/scalars.csv`` has beta and the outer loss before/after
   every beta step.
2. Retrain (unless ``--no-retrain``): the ordinary trainer with
   ``framework: caf`` and that beta file, from ``retrain.config`` (plus
   ``--retrain-set`` overrides), into ``OUTPUT/retrain``; the checkpoint is
   an ``ssvif_train`` checkpoint (``ssvif_fuse``, ``compare_fusion``,
   ``ssvif_export`` take it as is).

``--resume auto`` continues whichever part was interrupted (a finished
search is not repeated). Exit codes: 0 done, 2 bad input, 3 diverged,
130 interrupted; errors print one line, no traceback.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from ros2_ssvif.cli import add_set_argument, run_command
from training.cli import config_overrides


__all__ = ['main', 'build_parser']


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='ssvif_search_loss',
                                description=__doc__.strip().splitlines()[0])
    p.add_argument(
        '--config',
        type=Path,
        default=None,
        help='search YAML (default: built-in settings; see config/training/caf_search.yaml)',
    )
    p.add_argument('--data-root', default=None, help='labelled search set (overrides data.root)')
    p.add_argument('--output', default=None, help='output folder (overrides output_dir)')
    add_set_argument(
        p, help='dotted override of the search config, e.g. --set search.epochs=2 (repeatable)')
    p.add_argument('--retrain-data-root', default=None, help='data.root of the retraining')
    add_set_argument(p, 'dotted override of the retraining config (repeatable)',
                     flag='--retrain-set', dest='retrain_overrides')
    p.add_argument('--no-retrain', action='store_true', help='search only')
    p.add_argument('--resume', default=None, metavar='auto', choices=['auto'],
                   help='continue an interrupted search and/or retraining in OUTPUT')
    p.add_argument('--no-progress', action='store_true', help='no tqdm bars in the retraining')
    return p


def retrain_config(cfg, beta_file: Path, out: Path, data_root: str | None, extra: list[str]):
    """
    Return the TrainConfig of the retraining: ``retrain.config`` + overrides + framework caf.

    The found loss goes into ``framework_options.loss`` inline (perceptual weights as an
    absolute path), so the retrained checkpoint carries it and loads without beta.yaml.
    """
    from training.caf.build import read_beta_file
    from training.config import ConfigError, load_config

    path = cfg.retrain.config
    if path is None:
        raise ConfigError('retrain.config is not set: name an ssvif_train YAML '
                          '(or use --no-retrain)')
    if not Path(path).is_absolute():
        path = Path(cfg.base_dir) / path
    overrides = list(cfg.retrain.overrides) + list(extra)
    if data_root is not None:
        overrides.append(f'data.root={data_root}')
    overrides += ['framework=caf', f"framework_options={{loss_file: '{beta_file}'}}",
                  f"output_dir={out / 'retrain'}"]
    tcfg = load_config(path, overrides)
    doc = read_beta_file(beta_file)
    loss = {k: doc.get(k) for k in ('searched', 'fixed', 'scales', 'perceptual_weights')}
    if loss['perceptual_weights'] and not Path(loss['perceptual_weights']).is_absolute():
        loss['perceptual_weights'] = str(
            (Path(beta_file).parent / loss['perceptual_weights']).resolve())
    tcfg.framework_options = {'loss': loss}
    return tcfg.validate()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command('ssvif_search_loss', lambda: _search(args), errors=(KeyError, RuntimeError),
                       interrupted='continue with --resume auto', missing_extra='training')


def _search(args) -> int:
    overrides = config_overrides(args)
    import torch  # noqa: F401 (the training extra: a missing one is named, exit 2)
    from training.caf.config import load_caf_config
    from training.checkpoint import load_checkpoint
    from training.caf.search import LossSearch
    from training.trainer import train

    cfg = load_caf_config(args.config, overrides)
    out = Path(cfg.output_dir)
    cfg.output_dir = str(out / 'search')
    search_dir = Path(cfg.output_dir)
    done = False
    if args.resume and (search_dir / 'last.pt').is_file():
        done = int(load_checkpoint(search_dir / 'last.pt')['epoch']) >= int(cfg.search.epochs)
    if done:
        beta_file = search_dir / 'beta.yaml'
        print(f'ssvif_search_loss: search already finished, using {beta_file}')
    else:
        result = LossSearch(cfg, progress=not args.no_progress).run(resume=args.resume)
        beta_file = result.beta_file
        top = sorted(result.beta.items(), key=lambda kv: -kv[1])[:5]
        print('ssvif_search_loss: beta ' + ', '.join(f'{k} {v:.4f}' for k, v in top) + ' ...')
    print(f"beta: {beta_file}; log: {search_dir / 'scalars.csv'}")
    if args.no_retrain:
        return 0
    tcfg = retrain_config(
        cfg, beta_file.resolve(), out, args.retrain_data_root, args.retrain_overrides
    )
    res = train(tcfg, progress=not args.no_progress, resume=args.resume)
    h = res.history[-1] if res.history else {}
    print(f'ssvif_search_loss: retrained {len(res.history)} epoch(s), last val L_fusion '
          f"{h.get('val_L_fusion', float('nan')):.4g}")
    print(f'checkpoints: last {res.last_checkpoint}, best {res.best_checkpoint}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
