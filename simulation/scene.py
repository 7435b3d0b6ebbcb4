"""Procedural road scenes rendered through both cameras of the rig: the one
import for users of the synthetic street.

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
    BICYCLE, BUILDING, BUS, CAR, CONDITIONS, EGO_SPEED, KIND_LABEL, LIGHT, MOTORCYCLE, PERSON,
    POLE, ROAD, SIDEWALK, SIGN, SKY, TRUCK, VEGETATION, Building, RenderedPair, RoadLayout, Scene,
    SceneError, SceneObject,
)

__all__ = [
    "BICYCLE", "BUILDING", "BUS", "CAR", "CONDITIONS", "EGO_SPEED", "KIND_LABEL", "LIGHT",
    "MOTORCYCLE", "PERSON", "POLE", "ROAD", "SIDEWALK", "SIGN", "SILHOUETTES", "SKY", "TRUCK",
    "VEGETATION", "Building", "DriveScenario", "RenderedPair", "RoadLayout", "Scene", "SceneError",
    "SceneObject", "SceneRenderer", "random_scene",
]
