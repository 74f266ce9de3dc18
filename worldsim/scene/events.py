"""Scripted events of the scene format: what happens to which body, and when.

Part of the scene format (:mod:`worldsim.scene.schema` assembles it and checks that events name
real bodies); :mod:`worldsim.physics.events` fires them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from worldsim.scene.settings import CONTACT_FIELDS, ContactFields
from worldsim.scene.types import Float, Name, NonNegFloat, PositiveFloat, Strict_, Vec3


class EventBase(Strict_):
    """Fields every event has: when it fires and which body it acts on."""

    time: NonNegFloat
    body: Name


class ImpulseEvent(EventBase):
    """An instantaneous impulse (N·s) at ``point`` (world; default the body's centre of mass)."""

    type: Literal["impulse"]
    impulse: Vec3
    point: Vec3 | None = None


class ForceEvent(EventBase):
    """A constant world-frame force (N) applied for ``duration`` seconds."""

    type: Literal["force"]
    force: Vec3
    duration: PositiveFloat
    point: Vec3 | None = None


class SetVelocityEvent(EventBase):
    """Set the base's linear (and optionally angular) velocity."""

    type: Literal["set_velocity"]
    linear: Vec3
    angular: Vec3 | None = None


class SpawnEvent(EventBase):
    """Bring a body declared with ``active: false`` into the world (optionally at a new position)."""

    type: Literal["spawn"]
    position: Vec3 | None = None
    linear_velocity: Vec3 | None = None


class RemoveEvent(EventBase):
    """Take a body out of the world."""

    type: Literal["remove"]


class JointTargetEvent(EventBase):
    """Drive one joint of a URDF body to a target position with a position controller."""

    type: Literal["joint_target"]
    joint: str
    position: Float
    max_force: PositiveFloat = 200.0


class SetDynamicsEvent(EventBase, ContactFields):
    """Change a body's mass or contact and damping values from this time on (unset fields stay)."""

    type: Literal["set_dynamics"]
    mass: PositiveFloat | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> "SetDynamicsEvent":
        if not self.changes():
            raise ValueError("set_dynamics changes nothing: give mass, friction, rolling_friction, "
                             "spinning_friction, restitution, linear_damping or angular_damping")
        return self

    def changes(self) -> dict[str, float]:
        """The fields this event sets, by scene name."""
        keys = ("mass", *CONTACT_FIELDS)
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


class SetGravityEvent(Strict_):
    """Change the world's gravity (m/s², world frame) from this time on; it acts on no one body."""

    time: NonNegFloat
    type: Literal["set_gravity"]
    gravity: Vec3


Event = Annotated[
    Union[ImpulseEvent, ForceEvent, SetVelocityEvent, SpawnEvent, RemoveEvent, JointTargetEvent, SetDynamicsEvent,
          SetGravityEvent],
    Field(discriminator="type"),
]
