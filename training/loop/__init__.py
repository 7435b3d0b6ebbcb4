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
The loop core every training loop here stands on (issue 18).

* :mod:`training.loop.core`: seeding, loaders, the run state, progress,
  step and epoch scalars, checkpoints, resume and best-model tracking
  (:class:`~training.loop.core.Loop`, :class:`~training.loop.core.BestTracker`).
* :mod:`training.loop.step`: one step's check, weighting, backward and
  optimizer steps (:class:`~training.loop.step.StepApplication`), which a
  framework reaches through its ``StepContext``.
* :mod:`training.loop.schedule`: step schedules of the frameworks that
  alternate what they train.

The loops: the SSVIF trainer (``training.trainer``, every framework), CAF's
loss search (``training.caf.search``) and the segmenter training
(``training.segmenter``). Nothing is imported here, so importing one part
does not load the others.
"""
