"""Typed building blocks shared by the scene schema.

Conventions, documented once for the whole project: SI units, z up, quaternions in **xyzw** order
(PyBullet's), colours as RGBA floats in ``[0, 1]``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict

# Strict scalars: YAML ``"1.0"`` or ``yes`` is a mistake in a scene file, not something to coerce.
Float = Annotated[float, Strict(), AllowInfNan(False)]
PositiveFloat = Annotated[float, Strict(), AllowInfNan(False), Field(gt=0)]
NonNegFloat = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
Bool = Annotated[bool, Strict()]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]

Vec2 = Annotated[list[Float], Field(min_length=2, max_length=2)]
Vec3 = Annotated[list[Float], Field(min_length=3, max_length=3)]
PositiveVec2 = Annotated[list[PositiveFloat], Field(min_length=2, max_length=2)]
PositiveVec3 = Annotated[list[PositiveFloat], Field(min_length=3, max_length=3)]
Quaternion = Annotated[list[Float], Field(min_length=4, max_length=4)]
UnitFloat = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0, le=1)]
Color = Annotated[list[UnitFloat], Field(min_length=3, max_length=4)]
Resolution = Annotated[list[Annotated[int, Strict(), Field(ge=8, le=4096)]], Field(min_length=2, max_length=2)]


class Strict_(BaseModel):
    """Base for every scene model: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
