"""Constraints between bodies without writing a URDF: fixed, hinge and ball joints.

Part of the scene format (:mod:`worldsim.scene.schema` checks that they name real, moving bodies);
:mod:`worldsim.physics.constraints` creates them. Pivots and axes are given in **world**
coordinates at t = 0, where the scene places the bodies, so a pendulum is written as it is drawn:

    constraints:
      - {type: hinge, body: bob, pivot: [0, 0, 1.5], axis: [0, 1, 0]}   # to the world
      - {type: fixed, body: lid, to: box}                                # glued where they start
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from worldsim.scene.types import Name, PositiveFloat, Strict_, Vec3


class ConstraintBase(Strict_):
    """Fields every constraint has: the bodies it joins and where."""

    body: Name
    # The other body; unset joins ``body`` to the world.
    to: Name | None = None
    # World point (at t = 0) both bodies keep together; unset: ``body``'s position.
    pivot: Vec3 | None = None
    # Largest force (N) the constraint may apply; unset: as strong as needed.
    max_force: PositiveFloat | None = None


class FixedConstraint(ConstraintBase):
    """Keeps the two bodies' relative pose as it is at t = 0."""

    type: Literal["fixed"]


class BallConstraint(ConstraintBase):
    """Point-to-point: the bodies share the pivot and rotate freely about it."""

    type: Literal["ball"]


class HingeConstraint(ConstraintBase):
    """Rotation about one world axis through the pivot only (a door, a pendulum)."""

    type: Literal["hinge"]
    axis: Vec3

    @field_validator("axis")
    @classmethod
    def _nonzero(cls, value: list[float]) -> list[float]:
        norm = math.sqrt(sum(v * v for v in value))
        if norm < 1e-9:
            raise ValueError("a hinge axis must not be all zeros")
        return [v / norm for v in value]


Constraint = Annotated[Union[FixedConstraint, BallConstraint, HingeConstraint], Field(discriminator="type")]
