"""Scripted events: when each fires (in physics steps) and what it does to the world."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from worldsim.scene.events import (
    Event,
    ForceEvent,
    ImpulseEvent,
    JointTargetEvent,
    RemoveEvent,
    SetDynamicsEvent,
    SetGravityEvent,
    SetVelocityEvent,
    SpawnEvent,
)
from worldsim.scene.settings import CONTACT_FIELDS

if TYPE_CHECKING:
    from worldsim.physics.world import PhysicsWorld


def step_of(time: float, timestep: float) -> int:
    """The first physics step at or after ``time`` (tolerant of float rounding)."""
    return max(0, math.ceil(time / timestep - 1e-6))


@dataclass
class EventQueue:
    """The scene's events in firing order, and which forces are acting at a given step."""

    events: list[Event]
    timestep: float
    next_index: int = 0

    def __post_init__(self) -> None:
        order = sorted(range(len(self.events)), key=lambda i: (step_of(self.events[i].time, self.timestep), i))
        self.events = [self.events[i] for i in order]
        # (event index, first step, end step) of each force; scanned every physics step.
        self._forces = []
        for i, event in enumerate(self.events):
            if isinstance(event, ForceEvent):
                start = step_of(event.time, self.timestep)
                self._forces.append((i, start, start + max(1, round(event.duration / self.timestep))))

    def copy(self) -> "EventQueue":
        """A copy sharing the (immutable) events but with its own cursor."""
        return copy.copy(self)

    def due(self, step: int) -> list["_Fire"]:
        """Events whose time has come at ``step`` (each returned once)."""
        fired = []
        while self.next_index < len(self.events) and step_of(self.events[self.next_index].time, self.timestep) <= step:
            fired.append(_Fire(self.events[self.next_index]))
            self.next_index += 1
        return fired

    def forces_at(self, step: int) -> list[int]:
        """Indices of force events acting during ``step``."""
        return [i for i, start, stop in self._forces if start <= step < stop]

    def apply_force(self, world: "PhysicsWorld", i: int) -> None:
        """Apply force event ``i`` for one step."""
        event = self.events[i]
        if world.index(event.body) in world.active:
            world.apply_force(event.body, event.force, event.point)


@dataclass
class _Fire:
    event: Event

    def fire(self, world: "PhysicsWorld") -> None:
        """Carry out an instantaneous event (force events act through ``forces_at``)."""
        e = self.event
        if isinstance(e, ImpulseEvent):
            world.apply_impulse(e.body, e.impulse, e.point)
        elif isinstance(e, SetVelocityEvent):
            world.set_velocity(e.body, e.linear, e.angular)
        elif isinstance(e, SpawnEvent):
            world.spawn(e.body, e.position, e.linear_velocity)
        elif isinstance(e, RemoveEvent):
            world.remove(e.body)
        elif isinstance(e, JointTargetEvent):
            world.set_joint_target(e.body, e.joint, e.position, e.max_force)
        elif isinstance(e, SetDynamicsEvent):
            world.set_dynamics(e.body, **{CONTACT_FIELDS.get(k, k): v for k, v in e.changes().items()})
        elif isinstance(e, SetGravityEvent):
            world.set_gravity(e.gravity)
