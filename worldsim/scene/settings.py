"""Scene-wide settings: time (``sim:``) and contact and damping defaults (``physics:``).

Part of the scene format; :mod:`worldsim.scene.schema` assembles it. Every contact or damping
field a body leaves unset takes its value from ``physics:``; :func:`contact_values` is the one place
that resolves a body's values, so the physics, the docs and the checks agree.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import model_validator

from worldsim.scene.types import NonNegFloat, PositiveFloat, PositiveInt, Strict_, UnitFloat, Vec3

if TYPE_CHECKING:
    from worldsim.scene.schema import BodyBase

MAX_STEPS_PER_FRAME = 10_000

# Scene field -> keyword of pybullet.changeDynamics, for every contact and damping field.
CONTACT_FIELDS = {
    "friction": "lateralFriction",
    "rolling_friction": "rollingFriction",
    "spinning_friction": "spinningFriction",
    "restitution": "restitution",
    "linear_damping": "linearDamping",
    "angular_damping": "angularDamping",
}


class ContactFields(Strict_):
    """The contact and damping fields a body (or a ``set_dynamics`` event) may set; unset is None.

    A body's unset fields take the scene's ``physics:`` defaults (a URDF keeps its file's
    ``<contact>`` values): :func:`contact_values` resolves them.
    """

    friction: NonNegFloat | None = None
    rolling_friction: NonNegFloat | None = None
    spinning_friction: NonNegFloat | None = None
    restitution: UnitFloat | None = None
    linear_damping: NonNegFloat | None = None
    angular_damping: NonNegFloat | None = None


class SimSettings(Strict_):
    """Simulation settings. One output frame spans ``1 / (fps * timestep)`` physics steps."""

    gravity: Vec3 = [0.0, 0.0, -9.81]
    timestep: PositiveFloat = 1.0 / 240.0
    substeps: PositiveInt = 1
    solver_iterations: PositiveInt = 50
    fps: PositiveFloat = 24.0
    duration: PositiveFloat = 2.0

    @model_validator(mode="after")
    def _frame_is_whole_steps(self) -> "SimSettings":
        product = self.fps * self.timestep
        ratio = 1.0 / product if product > 0 else math.inf  # denormal inputs underflow to 0
        if not math.isfinite(ratio) or ratio > MAX_STEPS_PER_FRAME:
            raise ValueError(f"1 / (fps * timestep) = {ratio:.4g} physics steps per frame; at most {MAX_STEPS_PER_FRAME} "
                             f"are supported (fps={self.fps}, timestep={self.timestep})")
        if ratio < 1 - 1e-6 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"1 / (fps * timestep) must be a whole number of physics steps per frame, "
                f"got {ratio:.4f} (fps={self.fps}, timestep={self.timestep})"
            )
        return self

    @property
    def steps_per_frame(self) -> int:
        """Physics steps per output frame."""
        return int(round(1.0 / (self.fps * self.timestep)))

    @property
    def num_frames(self) -> int:
        """Output frames in ``duration`` seconds (the first frame is at t = 0)."""
        return int(math.floor(self.duration * self.fps + 1e-9)) + 1


class PhysicsSettings(Strict_):
    """Contact and damping defaults for every body that does not set its own.

    Bullet combines two touching bodies' coefficients by multiplication (friction
    ``μ = μa·μb``, restitution ``e = ea·eb``, rolling and spinning friction alike); PyBullet does
    not let a scene change that rule. ``combine: moving_body`` makes the pair coefficient against
    the static world equal to the moving body's own value: every static body that leaves a
    coefficient unset gets 1.0 for it (``μ·1 = μ``). Between two moving bodies it stays the product.
    The defaults (damping 0.04, friction 0.5) are PyBullet's and keep every bundled scene as it was;
    a textbook scene sets ``linear_damping: 0`` and ``angular_damping: 0``.
    """

    friction: NonNegFloat = 0.5
    rolling_friction: NonNegFloat = 0.0
    spinning_friction: NonNegFloat = 0.0
    restitution: UnitFloat = 0.0
    linear_damping: NonNegFloat = 0.04
    angular_damping: NonNegFloat = 0.04
    combine: Literal["product", "moving_body"] = "product"
    # Bullet ignores restitution below this impact speed (m/s), so resting contacts do not jitter.
    restitution_threshold: NonNegFloat = 0.2


def contact_values(body: "BodyBase", physics: PhysicsSettings, from_file: bool = False) -> dict[str, float]:
    """The contact and damping values a body gets, as ``pybullet.changeDynamics`` keywords.

    Args:
        body: the body; a field it sets wins.
        physics: the scene's defaults.
        from_file: the body's file (a URDF's ``<contact>``) holds its own contact coefficients:
            unset coefficients are left out so the file's values stay. Damping, which a URDF
            cannot hold, still comes from ``physics``.
    """
    out: dict[str, float] = {}
    for name, keyword in CONTACT_FIELDS.items():
        given = getattr(body, name)
        if given is not None:
            out[keyword] = float(given)
        elif name.endswith("damping"):
            out[keyword] = float(getattr(physics, name))
        elif not from_file:
            static_one = physics.combine == "moving_body" and body.static
            out[keyword] = 1.0 if static_one else float(getattr(physics, name))
    return out
