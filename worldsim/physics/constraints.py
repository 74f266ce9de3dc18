"""Creating the scene's constraints in PyBullet (see :mod:`worldsim.scene.constraints` for the format).

PyBullet's ``createConstraint`` takes each body's anchor in its centre-of-mass frame; the scene
gives one world pivot at t = 0, so the anchors are that pivot seen from each body. A hinge is two
point-to-point joints on the axis (PyBullet has no revolute user constraint between free bodies):
together they leave only the rotation about the line through both points. Their rows are partly
redundant, so a hinge's accuracy follows ``sim.solver_iterations``: a 1 m pendulum's period came out
0.28 % long at the default 50 iterations and 0.05 % at 200 (``tests/physics/test_constraints.py``).
"""

from __future__ import annotations

import pybullet as pb

from worldsim.scene.constraints import BallConstraint, Constraint, FixedConstraint, HingeConstraint

# m: the second point joint sits this far from the pivot along the axis. One at the pivot and one
# beside it converged better than two placed symmetrically (0.3 % against 0.7 % period error).
HINGE_SPAN = 0.25
UNLIMITED_FORCE = 1e12  # N: PyBullet's default cap (500 N for a fixed joint) would let a heavy body sag


def _local(uid: int, point: list[float], client: int) -> tuple[tuple, tuple]:
    """``point`` (world) as a frame in body ``uid``'s centre-of-mass frame (the world's for -1)."""
    if uid < 0:
        return tuple(point), (0.0, 0.0, 0.0, 1.0)
    pos, orn = pb.getBasePositionAndOrientation(uid, physicsClientId=client)
    inv_pos, inv_orn = pb.invertTransform(pos, orn)
    return pb.multiplyTransforms(inv_pos, inv_orn, point, (0.0, 0.0, 0.0, 1.0))


def _joint(a: int, b: int, kind: int, point: list[float], client: int) -> int:
    pos_a, orn_a = _local(a, point, client)
    pos_b, orn_b = _local(b, point, client)
    return pb.createConstraint(a, -1, b, -1, kind, [0, 0, 0], pos_a, pos_b, orn_a, orn_b, physicsClientId=client)


def create_constraint(con: Constraint, a: int, b: int, pivot: list[float], client: int) -> list[int]:
    """Create one constraint between bodies ``a`` and ``b`` (-1: the world); returns PyBullet's ids.

    The two bodies stop colliding with each other, as a URDF's parent and child links do: a door
    and its frame meet at the hinge.
    """
    if isinstance(con, FixedConstraint):
        ids = [_joint(a, b, pb.JOINT_FIXED, pivot, client)]
    elif isinstance(con, BallConstraint):
        ids = [_joint(a, b, pb.JOINT_POINT2POINT, pivot, client)]
    elif isinstance(con, HingeConstraint):
        ends = [list(pivot), [p + HINGE_SPAN * d for p, d in zip(pivot, con.axis, strict=True)]]
        ids = [_joint(a, b, pb.JOINT_POINT2POINT, end, client) for end in ends]
    else:
        raise TypeError(type(con).__name__)
    for cid in ids:
        pb.changeConstraint(cid, maxForce=con.max_force or UNLIMITED_FORCE, physicsClientId=client)
    if b >= 0:
        pb.setCollisionFilterPair(a, b, -1, -1, 0, physicsClientId=client)
    return ids
