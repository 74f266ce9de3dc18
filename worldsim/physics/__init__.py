"""The physics side: the only part of worldsim that imports pybullet (and never torch)."""

from worldsim.physics.world import PhysicsWorld, Snapshot

__all__ = ["PhysicsWorld", "Snapshot"]
