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
Procedural road scenes rendered through both cameras of the rig.

The one import for users of the synthetic street.

The work lives in four rooms, each with one job: :mod:`simulation.world`
(what a street is made of), :mod:`simulation.silhouettes` (object shapes),
:mod:`simulation.scenario` (streets and traffic over time) and
:mod:`simulation.renderer` (ray casting and shading). This module keeps the
names callers have always imported from here.
"""
from __future__ import annotations

from simulation.renderer import SceneRenderer
from simulation.scenario import DriveScenario, random_scene
from simulation.silhouettes import SILHOUETTES
from simulation.world import (
    BICYCLE,
    BUILDING,
    Building,
    BUS,
    CAR,
    CONDITIONS,
    EGO_SPEED,
    KIND_LABEL,
    LIGHT,
    MOTORCYCLE,
    PERSON,
    POLE,
    RenderedPair,
    ROAD,
    RoadLayout,
    Scene,
    SceneError,
    SceneObject,
    SIDEWALK,
    SIGN,
    SKY,
    TRUCK,
    VEGETATION,
)


__all__ = [
    'BICYCLE', 'BUILDING', 'BUS', 'CAR', 'CONDITIONS', 'EGO_SPEED', 'KIND_LABEL', 'LIGHT',
    'MOTORCYCLE', 'PERSON', 'POLE', 'ROAD', 'SIDEWALK', 'SIGN', 'SILHOUETTES', 'SKY', 'TRUCK',
    'VEGETATION', 'Building', 'DriveScenario', 'RenderedPair', 'RoadLayout', 'Scene', 'SceneError',
    'SceneObject', 'SceneRenderer', 'random_scene',
]
