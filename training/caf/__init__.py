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
CAF (seed paper 002): a loss searched for a perception task, then a fusion network retrained on it.

One wing, floor by floor:

* :mod:`training.caf.space`: the searchable loss terms (registered in
  ``training.registry.LOSS_TERMS``) and their beta-weighted sum;
* :mod:`training.caf.config`: the search's YAML (``CAFConfig``);
* :mod:`training.caf.build`: the loss space, the task network and the
  ``beta.yaml`` the search writes and the retraining reads;
* :mod:`training.caf.search`: the search loop (``LossSearch``, on the loop
  core ``training.loop.core``);
* :mod:`training.caf.cli`: ``ssvif_search_loss``, the search then the
  retraining.

The retraining is an ordinary framework, ``framework: caf``
(``training/frameworks/caf.py``, a plugin like the others); its labelled
data come from ``training.data.labelled``. Nothing is imported here.
"""
