"""``PhysicsState``: the plain-numpy contract between the physics and everything that draws."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Contact:
    """Two bodies touching during one output frame (the strongest contact over its physics steps)."""

    body_a: int
    body_b: int
    position: np.ndarray  # (3,) world, on body b
    normal_force: float  # N


@dataclass
class PhysicsState:
    """Every body's state at one instant. Index ``i`` refers to ``names[i]`` throughout.

    Positions and quaternions are those of the frame the scene placed each body at (a URDF's root
    link frame); velocities are that frame's origin's. Quaternions are xyzw. Bodies not (yet / any
    more) in the world have ``present[i] == False`` and hold their declared pose with zero velocity.
    """

    time: float
    names: list[str]
    positions: np.ndarray  # (N, 3)
    quaternions: np.ndarray  # (N, 4) xyzw
    velocities: np.ndarray  # (N, 3)
    angular_velocities: np.ndarray  # (N, 3)
    present: np.ndarray  # (N,) bool
    joint_positions: dict[str, np.ndarray] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    # (N, 3) each base's centre of mass; equal to ``positions`` except for URDF bodies whose base
    # link's <inertial> origin is offset from the link frame (positions are the frame the scene placed).
    centers_of_mass: np.ndarray | None = None
    joint_velocities: dict[str, np.ndarray] = field(default_factory=dict)  # rad/s or m/s, as joint_positions

    def index(self, name: str) -> int:
        """Index of the body called ``name``."""
        return self.names.index(name)
