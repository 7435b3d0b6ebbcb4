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
Train the segmenter whose class ids the node publishes.

SSVIF's own branches learn unnamed classes, so masks with real class names
come from a segmenter trained on the fused images of a labelled set, as in
the paper's evaluation protocol (Appendix A-B): SegFormer, cross-entropy,
AdamW, encoder frozen for the first epochs, cosine schedule, early
stopping. The fusion model is frozen here; fused images are made on the fly
so augmentation and the fusion model can change without re-rendering.

The paper fine-tunes a pretrained SegFormer with its encoder frozen for the
first ``freeze_epochs`` = 30 epochs. Nothing is downloaded here: a user with
a checkpoint passes ``init_checkpoint`` (a Hugging Face folder, or a
SegFormer state dict in the original MiT naming as SegMiF releases it; see
``training.models.pretrained_segformer``), otherwise the segmenter starts
from scratch and configs set ``freeze_epochs: 0`` (a frozen random encoder
teaches nothing).

One wing: :mod:`training.segmenter.model` (config, network, loss,
checkpoint), :mod:`training.segmenter.train` (the training loop, on the
loop core) and :mod:`training.segmenter.cli` (``ssvif_train_segmenter``).
The names below are the public ones, importable from here; this package
face sits with the commands, on training's top floor (inside training only
the export command imports it).
"""
from __future__ import annotations

from training.segmenter.cli import main
from training.segmenter.model import (build_segmenter_net, config_from_sets, load_segmenter,
                                      save_segmenter, ScaledSegmenter, SegmenterConfig,
                                      SegmenterLoss)
from training.segmenter.train import (evaluate, FusedBatches, segmenter_input, SegmenterResult,
                                      train_segmenter)


__all__ = ['FusedBatches', 'ScaledSegmenter', 'SegmenterConfig', 'SegmenterLoss',
           'SegmenterResult', 'build_segmenter_net', 'config_from_sets', 'evaluate',
           'load_segmenter', 'main', 'save_segmenter', 'segmenter_input', 'train_segmenter']
