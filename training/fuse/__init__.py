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
The fusing wing: fuse image folders with a checkpoint or an exported model, and its command.

* :mod:`training.fuse.images`: a checkpoint's fusion network on image
  pairs, padded and normalised as the runtime does (also used by
  ``compare_fusion``);
* :mod:`training.fuse.cli`: ``ssvif_fuse`` (``--model`` runs an exported
  bundle through the torch-free runtime instead).

The names below stay importable from ``training.fuse``; this package sits
with the commands, on training's top floor, and nothing in training
imports it.
"""
from __future__ import annotations

from training.fuse.cli import main
from training.fuse.images import (fuse_folder, fuse_tensors, load_for_fusion, PAD_MULTIPLE,
                                  to_uint8_rgb)


__all__ = ['PAD_MULTIPLE', 'fuse_folder', 'fuse_tensors', 'load_for_fusion', 'main',
           'to_uint8_rgb']
