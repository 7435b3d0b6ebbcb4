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
``ssvif_train_segmenter``: the mask segmenter on fused images of a labelled set.

    ssvif_train_segmenter --fusion CKPT --data-root DIR [--data-kind fmb|msrs|synthetic_folder] \
        --output seg.pt [--set KEY=VALUE ...] [--no-progress]

The fusion network (an ``ssvif_train`` checkpoint) is frozen; 10 % of the
training split validates (mIoU, early stopping). Errors print one line,
exit 2. The engine is :func:`training.segmenter.train_segmenter`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ros2_ssvif.cli import run_command


__all__ = ['main']


def main(argv: list[str] | None = None) -> int:
    """ssvif_train_segmenter: the mask segmenter on fused images of a labelled set."""
    from torch.utils.data import Subset
    from training.checkpoint import load_fusion_model
    from training.data.pairs import LabelledPairs, split_pairs
    from training.segmenter.model import config_from_sets, SegmenterConfig
    from training.segmenter.train import train_segmenter

    ap = argparse.ArgumentParser(prog='ssvif_train_segmenter', description=main.__doc__)
    ap.add_argument(
        '--fusion', required=True, help='fusion checkpoint from ssvif_train (frozen here)'
    )
    ap.add_argument('--data-root', required=True)
    ap.add_argument('--data-kind', default='fmb', choices=('fmb', 'msrs', 'synthetic_folder'))
    ap.add_argument('--output', required=True, help='segmenter checkpoint to write')
    ap.add_argument(
        '--set',
        action='append',
        default=[],
        metavar='KEY=VALUE',
        help='override a SegmenterConfig field '
        f'({", ".join(SegmenterConfig.__dataclass_fields__)})',
    )
    ap.add_argument('--no-progress', action='store_true')
    args = ap.parse_args(argv)

    def run() -> int:
        if Path(args.output).is_dir():  # before training, not at the final save
            raise ValueError(f'--output {args.output} is a folder: give the checkpoint file to '
                             'write (e.g. seg.pt)')
        cfg = config_from_sets(args.set, args.data_kind)
        fusion, _ = load_fusion_model(args.fusion)
        data = LabelledPairs.from_layout(args.data_kind, args.data_root, 'train')
        tr, va = split_pairs(list(range(len(data))), 0.1, seed=cfg.seed)
        res = train_segmenter(fusion, Subset(data, tr), Subset(data, va), cfg, args.output,
                              progress=not args.no_progress)
        print(f'ssvif_train_segmenter: wrote {res.checkpoint} '
              f'(best validation mIoU {res.best_miou:.3f}, {len(res.history)} epochs)')
        return 0

    return run_command('ssvif_train_segmenter', run, errors=(TypeError, FloatingPointError),
                       plain=True)


if __name__ == '__main__':
    raise SystemExit(main())
