"""How small a body can be and still rest on the floor: drop each shape, tilted, and measure.

Prints, per shape and size, how far the lowest point ends below the floor (mm) and the residual
speed after 2 s. The README quotes the smallest size that rests within 0.1 mm and stops.

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


def lowest_point(world: PhysicsWorld, size: float) -> float:
    """Lowest z of the body's collision AABB-tight points (the AABB minus Bullet's 1 mm margin)."""
    lo, _ = pb.getAABB(world.uid("body"), physicsClientId=world.client)
    return lo[2] + 0.001  # PyBullet pads every AABB by the contact margin (1 mm)


def settle(kind: str, size: float, tilt: list[float]) -> tuple[float, float]:
    """(depth below the floor in mm, final speed in m/s + rad/s·size) after a 2 s drop."""
    body = {"name": "body", **shape(kind, size), "position": [0, 0, 2 * size], "euler_deg": tilt}
    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"}, body]})
    with warnings.catch_warnings(), PhysicsWorld(spec) as world:
        warnings.simplefilter("ignore")
        world.step_frames(48)
        s = world.state()
        speed = float(np.linalg.norm(s.velocities[1]) + np.linalg.norm(s.angular_velocities[1]) * size)
        return -lowest_point(world, size) * 1000, speed


def main() -> None:
    print("| shape | " + " | ".join(f"{mm} mm" for mm in SIZES_MM) + " |")
    print("|---|" + "---|" * len(SIZES_MM))
    for kind in ("box", "sphere", "cylinder", "capsule"):
        cells = []
        for mm in SIZES_MM:
            runs = [settle(kind, mm / 1000, tilt) for tilt in TILTS]
            depth, speed = max(r[0] for r in runs), max(r[1] for r in runs)
            cells.append(f"{depth:.2f} mm, {speed:.0e} m/s")
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
