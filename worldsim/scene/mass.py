"""Masses of bodies as the scene declares them (no PyBullet needed), for building and for checks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from worldsim.scene.meshes import mesh_volume

if TYPE_CHECKING:
    from worldsim.scene.schema import BodyBase

DEFAULT_DENSITY = 500.0  # kg/m^3 (light wood) when a moving body gives neither mass nor density


def primitive_volume(body: "BodyBase") -> float:
    """Volume (m^3) of a primitive or mesh body, used to turn a density into a mass."""
    kind = body.type
    if kind == "box":
        return float(np.prod(body.size))
    if kind == "sphere":
        return 4.0 / 3.0 * math.pi * body.radius**3
    if kind == "cylinder":
        return math.pi * body.radius**2 * body.length
    if kind == "capsule":
        return math.pi * body.radius**2 * body.length + 4.0 / 3.0 * math.pi * body.radius**3
    if kind == "mesh":
        return mesh_volume(body.file, body.scale3)
    raise TypeError(type(body).__name__)


def body_mass(body: "BodyBase") -> float:
    """Mass in kg: 0 for static bodies, the URDF's links summed, else the given mass or density × volume."""
    if body.static:
        return 0.0
    if body.type == "urdf":
        from worldsim.scene.urdf import urdf_info

        return urdf_info(body.file).mass * body.scale**3
    if body.mass is not None:
        return float(body.mass)
    return float((body.density or DEFAULT_DENSITY) * primitive_volume(body))
