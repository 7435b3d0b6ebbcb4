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
``ssvif_train``: train a fusion model with SSVIF from a YAML config.

Exit codes: 0 done, 2 bad input (config, data, checkpoint), 3 training
diverged (NaN/inf loss), 130 interrupted. Errors print one line, no
traceback; a killed run resumes with ``--resume auto``.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys

from ros2_ssvif.cli import add_set_argument, run_command
from ros2_ssvif.errors import ConfigError


__all__ = ['main', 'build_parser', 'config_overrides']


def _registered_names() -> str | None:
    """Return the names a config may select (from training.registry), for --help."""
    try:
        from training.registry import help_text

        return f'Registered names (--set KEY=NAME): {help_text()}.'
    except ImportError:  # no torch here: the parts cannot load, and main says so
        return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='ssvif_train', description=__doc__.strip().splitlines()[0],
                                epilog=_registered_names())
    p.add_argument('--config', type=Path, default=None,
                   help='YAML config (default: built-in paper settings; see config/training/)')
    p.add_argument('--data-root', default=None, help='dataset root (overrides data.root)')
    p.add_argument(
        '--output',
        default=None,
        help='output folder for checkpoints and logs (overrides output_dir)',
    )
    add_set_argument(
        p, help='dotted override, value parsed as YAML, e.g. --set data.crop=64 (repeatable)')
    p.add_argument('--resume', default=None, metavar='PATH|auto',
                   help="continue from a checkpoint; 'auto' = OUTPUT/last.pt if it exists")
    p.add_argument('--no-progress', action='store_true', help='no tqdm bars')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command('ssvif_train', lambda: _train(args), errors=(KeyError, RuntimeError),
                       interrupted='continue with --resume auto', missing_extra='training')


def config_overrides(args) -> list[str]:
    """Return ``--set`` overrides with ``--data-root`` and ``--output`` as theirs (last wins)."""
    overrides = list(args.overrides)
    if args.data_root is not None:
        overrides.append(f'data.root={args.data_root}')
    if args.output is not None:
        overrides.append(f'output_dir={args.output}')
    return overrides


def _train(args) -> int:
    if args.output is not None and Path(args.output).is_file():
        raise ConfigError(f'--output {args.output} is a file, not a folder')
    overrides = config_overrides(args)
    from training.config import load_config  # torch & co. are an extra, not on the vehicle
    from training.trainer import train

    cfg = load_config(args.config, overrides)
    rank0 = int(os.environ.get('RANK', '0')) == 0
    result = train(cfg, progress=not args.no_progress, resume=args.resume)
    if rank0:
        h = result.history[-1] if result.history else {}
        print(
            f'ssvif_train: {len(result.history)} epoch(s), stage switch at epoch '
            f'{result.stage_switch_epoch}, '
            f'last val L_fusion {h.get("val_L_fusion", float("nan")):.4g}'
            + (' (early stop)' if result.stopped_early else '')
        )
        print(f'checkpoints: last {result.last_checkpoint}, best {result.best_checkpoint}')
        print(f"logs: {result.scalars_csv}, picture grids in {Path(result.output_dir) / 'grids'}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
