"""What the renderers see besides the bodies: cameras, the sun, the environment and area lights.

Part of the scene format (:mod:`worldsim.scene.schema` assembles it); the Cycles-only fields
(sun ``strength``/``angle_deg``, :class:`Environment`, :class:`AreaLight`) are ignored by TinyRenderer.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from worldsim.scene.types import Bool, Color, Name, PositiveFloat, Quaternion, Resolution, Strict_, UnitFloat, Vec3


class Camera(Strict_):
    """A pinhole camera: look-at (``position`` + ``target``) or pose (``position`` + ``orientation``).

    ``orientation`` is the camera-to-world rotation as a quaternion xyzw in the OpenCV camera
    convention (x right, y down, z forward). ``fov_deg`` is the vertical field of view.
    """

    name: Name = "main"
    position: Vec3 = [2.5, -2.5, 2.0]
    target: Vec3 | None = None
    orientation: Quaternion | None = None
    up: Vec3 = [0.0, 0.0, 1.0]
    fov_deg: Annotated[float, Field(gt=1, lt=179, allow_inf_nan=False, strict=True)] = 60.0
    resolution: Resolution = [128, 128]
    near: PositiveFloat = 0.05
    far: PositiveFloat = 50.0

    @model_validator(mode="after")
    def _pose(self) -> "Camera":
        if self.target is not None and self.orientation is not None:
            raise ValueError("give either target (look-at) or orientation, not both")
        if self.target is None and self.orientation is None:
            self.target = [0.0, 0.0, 0.0]
        if self.target is not None and math.dist(self.target, self.position) < 1e-6:
            raise ValueError("camera target must differ from its position")
        if self.far <= self.near:
            raise ValueError("far must be greater than near")
        return self


class Light(Strict_):
    """One directional light (the sun). ``direction`` points from the scene towards the light.

    ``ambient``/``diffuse``/``specular`` are TinyRenderer's coefficients; ``strength`` (irradiance,
    W/m²) and ``angle_deg`` (the sun's angular diameter: larger gives softer shadows) are the
    path-traced teacher's.
    """

    direction: Vec3 = [0.4, -0.6, 1.0]
    color: Color = [1.0, 1.0, 1.0]
    ambient: UnitFloat = 0.45
    diffuse: UnitFloat = 0.6
    specular: UnitFloat = 0.1
    distance: PositiveFloat = 10.0
    shadows: Bool = True
    strength: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)] = 3.0
    angle_deg: Annotated[float, Field(ge=0, le=90, allow_inf_nan=False, strict=True)] = 3.0

    @field_validator("direction")
    @classmethod
    def _nonzero(cls, value: list[float]) -> list[float]:
        if math.sqrt(sum(v * v for v in value)) < 1e-6:
            raise ValueError("light direction must not be the zero vector")
        return value


class Environment(Strict_):
    """Light from everywhere for the path-traced teacher: a ``sky`` (``color`` at the horizon
    blending to ``zenith_color`` overhead) or a ``uniform`` colour, scaled by ``strength``."""

    kind: Literal["sky", "uniform"] = "sky"
    color: Color = [0.85, 0.88, 0.92]
    zenith_color: Color = [0.45, 0.6, 0.9]
    strength: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False, strict=True)] = 0.6


class AreaLight(Strict_):
    """A square emitter for the path-traced teacher, facing ``target``; ``power`` in watts."""

    position: Vec3
    target: Vec3 = [0.0, 0.0, 0.0]
    size: PositiveFloat = 0.5
    power: Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False, strict=True)] = 100.0
    color: Color = [1.0, 1.0, 1.0]

    @model_validator(mode="after")
    def _aimed(self) -> "AreaLight":
        if math.dist(self.position, self.target) < 1e-6:
            raise ValueError("an area light's target must differ from its position")
        return self
