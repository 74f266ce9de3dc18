"""How small a body can be and still rest on the floor: drop each shape, tilted, and measure.

Prints, per shape and size, how far the lowest point of the shape ends below the floor (mm, worst of
three tilts) after 2 s, and its vertical speed then. Tilted cylinders and capsules may still roll
along the floor (no rolling friction by default); resting means not sinking.

    python benchmarks/small_bodies.py
"""

from __future__ import annotations

import warnings

import numpy as np
import pybullet as pb

from worldsim.physics import PhysicsWorld
from worldsim.scene import scene_from_dict

SIZES_MM = (2, 5, 10, 20, 50)
TILTS = ([30, 20, 10], [10, 5, 3], [0, 0, 0])


def shape(kind: str, size: float) -> dict:
    """A body of the given kind whose smallest dimension is ``size`` (m)."""
    if kind == "box":
        return {"type": "box", "size": [size] * 3}
    if kind == "sphere":
        return {"type": "sphere", "radius": size / 2}
    return {"type": kind, "radius": size / 2, "length": size}


def lowest_point(kind: str, size: float, position: np.ndarray, quaternion: np.ndarray) -> float:
    """Lowest z of the shape itself (not its AABB, which Bullet pads), from its pose."""
    rot = np.asarray(pb.getMatrixFromQuaternion(quaternion.tolist())).reshape(3, 3)
    half, axis_z = size / 2, abs(rot[2, 2])  # how upright the body's z axis stands
    if kind == "box":
        return position[2] - half * np.abs(rot[2]).sum()
    if kind == "sphere":
        return position[2] - half
    if kind == "cylinder":  # rim: half-length along the axis plus the radius across it
        return position[2] - (half * axis_z + half * np.sqrt(max(0.0, 1 - axis_z**2)))
    return position[2] - (half * axis_z + half)  # capsule: cylinder part plus a hemisphere


def settle(kind: str, size: float, tilt: list[float]) -> tuple[float, float]:
    """(depth below the floor in mm, vertical speed in m/s) after a 2 s drop."""
    body = {"name": "body", **shape(kind, size), "position": [0, 0, 2 * size], "euler_deg": tilt}
    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"}, body]})
    with warnings.catch_warnings(), PhysicsWorld(spec) as world:
        warnings.simplefilter("ignore")
        world.step_frames(48)
        s = world.state()
        return -lowest_point(kind, size, s.positions[1], s.quaternions[1]) * 1000, abs(float(s.velocities[1, 2]))


def main() -> None:
    print("| shape | " + " | ".join(f"{mm} mm" for mm in SIZES_MM) + " |")
    print("|---|" + "---|" * len(SIZES_MM))
    for kind in ("box", "sphere", "cylinder", "capsule"):
        cells = []
        for mm in SIZES_MM:
            runs = [settle(kind, mm / 1000, tilt) for tilt in TILTS]
            depth, speed = max(r[0] for r in runs), max(r[1] for r in runs)
            cells.append(f"{depth:+.3f} mm, {speed:.0e} m/s")
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
