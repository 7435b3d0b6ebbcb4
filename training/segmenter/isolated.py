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
Train a segmenter recipe in a fresh process on a fixed number of threads.

A CPU training's floats depend on the thread count and, as measured for the
shipped model, on what ran before it in the same process: a rerun of the
build did not repeat the segmenter its first run trained (models/README.md,
"One draw of the recipe"). A spawned process that does only this training
starts from the same state every time, so a rebuild repeats it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


__all__ = ['load_source', 'train_recipe_isolated']

#: source kinds: a fusion checkpoint, or a one-line rule of training.models.baseline_fusion
SOURCE_KINDS = ('fusion', 'baseline')


def load_source(spec: tuple[str, str]):
    """('fusion', checkpoint) -> that fusion network; ('baseline', kind) -> a one-line rule."""
    kind, value = spec
    if kind == 'fusion':
        from training.checkpoint import load_fusion_model

        return load_fusion_model(Path(value))[0]
    if kind == 'baseline':
        from training.models.baseline_fusion import BaselineFusion

        return BaselineFusion(value)
    raise ValueError(f'segmenter source kind {kind!r}: one of {SOURCE_KINDS}')


def _child(conn, spec, recipe_path, overrides, data_root, label_root, boxes_names, output,
           progress, threads) -> None:
    import torch
    from training.segmenter.recipe import load_recipe, train_recipe

    torch.set_num_threads(threads)
    source = load_source(spec)
    torch.manual_seed(0)
    recipe = load_recipe(recipe_path, list(overrides))
    res = train_recipe(source, data_root, label_root, recipe, output, boxes_names,
                       progress=progress)
    conn.send({'epochs': len(res.history), 'final_loss': res.history[-1]['loss'],
               'checkpoint': str(res.checkpoint)})
    conn.close()


def train_recipe_isolated(spec: tuple[str, str], recipe_path: str | Path,
                          overrides: Sequence[str], data_root: str | Path,
                          label_root: str | Path, boxes_names: Sequence[str],
                          output: str | Path, progress: bool = False,
                          threads: int = 2) -> dict:
    """
    Run ``train_recipe`` on ``spec``'s images in a spawned process; return its summary.

    Returns {'epochs', 'final_loss', 'checkpoint'}. The child's errors reach
    its stderr; here they raise RuntimeError with its exit code.
    """
    import multiprocessing as mp

    if spec[0] not in SOURCE_KINDS:
        raise ValueError(f'segmenter source kind {spec[0]!r}: one of {SOURCE_KINDS}')
    ctx = mp.get_context('spawn')
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, tuple(spec), str(recipe_path), list(overrides),
                                            str(data_root), str(label_root), list(boxes_names),
                                            str(output), progress, int(threads)))
    proc.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        result = None
    proc.join()
    if proc.exitcode != 0 or result is None:
        raise RuntimeError(f'the segmenter training process failed (exit code {proc.exitcode})')
    return result
