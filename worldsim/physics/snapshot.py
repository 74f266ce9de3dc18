"""``Snapshot``: a saved world state, and the checks that keep it to the world that took it."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldsim.physics.events import EventQueue
from worldsim.state import Contact


@dataclass
class Snapshot:
    """A saved world state; restore it with :meth:`PhysicsWorld.restore` on the same world."""

    state_id: int
    step: int
    active: set[int]
    queue: EventQueue
    joint_targets: dict[tuple[int, int], tuple[float, float]]
    contacts: dict[tuple[int, int], Contact] = field(default_factory=dict)
    dynamics: list[dict] = field(default_factory=list)  # each body's base dynamics (set_dynamics changes them)
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    world: int = -1  # the token of the world that took it (PyBullet state ids mean nothing elsewhere)
    removed: bool = False

    def check(self, world: int) -> None:
        """Raise a ValueError unless this snapshot can be used in the world with token ``world``."""
        if self.removed:
            raise ValueError(f"snapshot {self.state_id} was removed; it cannot be restored or removed again")
        if self.world != world:
            raise ValueError(f"snapshot {self.state_id} was taken in another world (another env, or this env's "
                             "world before a randomized reset rebuilt it); restore it where it was saved")
