"""Physics against analytic answers. Tolerances, and why each is what it is:

- free fall and ballistic flight: PyBullet integrates with semi-implicit Euler, whose position error
  after time t is g·dt·t/2 (0.020 m after 1 s at dt = 1/240); we allow that bound plus 1 mm.
- incline: measured acceleration within 3 % of g(sin θ − μ cos θ) (μ = product of the two frictions,
  Bullet's combination rule).
- head-on collision: total momentum conserved to 0.5 % of the initial momentum.
"""

from __future__ import annotations

import math

import numpy as np

from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene, scene_from_dict

from ..conftest import ROOT

G = 9.81
DT = 1.0 / 240.0


def _ball(**extra):
    body = {"name": "ball", "type": "sphere", "radius": 0.05, "mass": 1.0, "linear_damping": 0.0,
            "angular_damping": 0.0, "position": [0, 0, 10.0]}
    body.update(extra)
    return body


def test_free_fall_matches_half_g_t_squared():
    spec = scene_from_dict({"bodies": [_ball()]})
    with PhysicsWorld(spec) as world:
        for _ in range(1, 25):
            world.step_frames(1)
            t = world.time
            z = world.state().positions[0, 2]
            assert abs(z - (10.0 - 0.5 * G * t * t)) <= G * DT * t / 2 + 1e-3, (t, z)


def test_ballistic_throw_matches_parabola():
    v0 = np.array([3.0, 1.0, 5.0])
    spec = scene_from_dict({"bodies": [_ball(position=[0, 0, 0], linear_velocity=v0.tolist())]})
    with PhysicsWorld(spec) as world:
        world.step_frames(24)
        t = world.time
        pos = world.state().positions[0]
    expected = v0 * t + np.array([0, 0, -0.5 * G * t * t])
    assert np.allclose(pos[:2], expected[:2], atol=1e-6)
    assert abs(pos[2] - expected[2]) <= G * DT * t / 2 + 1e-3


def test_incline_slide_matches_friction_law():
    spec = load_scene(ROOT / "scenes" / "incline_slide.yaml")
    theta = math.radians(30)
    mu = spec.body("incline").friction * spec.body("block").friction
    expected = G * (math.sin(theta) - mu * math.cos(theta))
    with PhysicsWorld(spec) as world:
        world.step_frames(2)  # let the contact settle
        p0, t0 = world.state().positions[2].copy(), world.time
        v0 = np.linalg.norm(world.state().velocities[2])
        world.step_frames(12)
        p1, t1 = world.state().positions[2], world.time
    dist = np.linalg.norm(p1 - p0)
    measured = 2 * (dist - v0 * (t1 - t0)) / (t1 - t0) ** 2
    assert abs(measured - expected) / expected < 0.03, (measured, expected)


def test_head_on_collision_conserves_momentum():
    bodies = [
        _ball(name="a", position=[-0.5, 0, 0], linear_velocity=[2.0, 0, 0], mass=1.0, restitution=0.8),
        _ball(name="b", position=[0.5, 0, 0], linear_velocity=[-1.0, 0, 0], mass=3.0, restitution=0.8),
    ]
    spec = scene_from_dict({"sim": {"gravity": [0, 0, 0]}, "bodies": bodies})
    with PhysicsWorld(spec) as world:
        masses = world.masses()
        p_before = (masses[:, None] * world.state().velocities).sum(0)
        world.step_frames(24)
        state = world.state()
    p_after = (masses[:, None] * state.velocities).sum(0)
    assert state.velocities[0, 0] < 0.5  # they did collide: a was slowed or turned back
    assert np.linalg.norm(p_after - p_before) <= 0.005 * np.linalg.norm(p_before)
