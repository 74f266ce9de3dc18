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


TEXTBOOK = {"linear_damping": 0.0, "angular_damping": 0.0}  # the physics: section a textbook scene uses


def _incline_block(theta_deg: float, block: dict, incline: dict | None = None, **scene) -> dict:
    """A block resting on a static incline of ``theta_deg`` (its bottom face on the slope's top face)."""
    theta = math.radians(theta_deg)
    normal = np.array([-math.sin(theta), 0, math.cos(theta)])  # the slope's top-face normal
    centre = np.array([0.0, 0.0, 1.0]) + normal * (0.05 + 0.05)
    return {"physics": TEXTBOOK, **scene, "bodies": [
        {"name": "incline", "type": "box", "static": True, "size": [3.0, 0.6, 0.1], "position": [0, 0, 1.0],
         "euler_deg": [0, -theta_deg, 0], **(incline or {})},
        {"name": "block", "type": "box", "size": [0.2, 0.2, 0.1], "mass": 1.0, "position": centre.tolist(),
         "euler_deg": [0, -theta_deg, 0], **block}]}


def _acceleration(world: PhysicsWorld, index: int, frames: int) -> float:
    """Mean acceleration along the path over ``frames`` frames, from distance and start speed."""
    s0 = world.state()
    p0, v0, t0 = s0.positions[index].copy(), np.linalg.norm(s0.velocities[index]), world.time
    world.step_frames(frames)
    dist, dt = np.linalg.norm(world.state().positions[index] - p0), world.time - t0
    return 2 * (dist - v0 * dt) / dt**2


def test_mid_run_friction_change_turns_deceleration_into_g_sin_theta():
    # μ = 1·1 holds the block on 30° (tan 30° = 0.58); a set_dynamics event at 0.25 s drops it to 0.
    doc = _incline_block(30, {"friction": 1.0}, {"friction": 1.0}, events=[
        {"time": 0.25, "type": "set_dynamics", "body": "block", "friction": 0.0}])
    with PhysicsWorld(scene_from_dict(doc)) as world:
        world.step_frames(5)
        held = np.linalg.norm(world.state().velocities[1])
        world.step_frames(2)  # the event fires at 0.25 s
        measured = _acceleration(world, 1, 12)
    assert held < 1e-3
    expected = G * math.sin(math.radians(30))
    assert abs(measured - expected) / expected < 0.01, (measured, expected)


def test_combine_moving_body_makes_the_block_friction_the_pair_friction():
    # Friction 0.2 on the block only: Bullet's product with the incline's default 0.5 would give 0.1;
    # combine: moving_body gives the static incline 1.0, so μ = 0.2 as a textbook means it.
    doc = _incline_block(30, {"friction": 0.2}, physics={**TEXTBOOK, "combine": "moving_body"})
    with PhysicsWorld(scene_from_dict(doc)) as world:
        world.step_frames(2)
        measured = _acceleration(world, 1, 12)
    theta = math.radians(30)
    expected = G * (math.sin(theta) - 0.2 * math.cos(theta))
    assert abs(measured - expected) / expected < 0.03, (measured, expected)


def test_restitution_half_bounces_to_a_quarter_height_with_combine_moving_body():
    # Substeps 4: at the default 1/240 s step the ball sinks up to 18 mm before the contact is seen and
    # is pushed out with extra energy (apex 0.32 of the drop for e = 0.5, measured); at 1/960 s 0.253.
    def apex(physics: dict) -> float:
        ball = _ball(position=[0, 0, 1.0], restitution=0.5)
        spec = scene_from_dict({"physics": {**TEXTBOOK, **physics}, "sim": {"fps": 240.0, "substeps": 4},
                                "bodies": [{"name": "floor", "type": "plane"}, ball]})
        with PhysicsWorld(spec) as world:
            zs = []
            for _ in range(480):
                world.step_frames(1)
                zs.append(world.state().positions[1, 2])
        bounce = int(np.argmin(zs[:200]))  # first impact
        return max(zs[bounce:]) - 0.05

    assert apex({}) < 0.01  # Bullet's product with the floor's default 0: no bounce (the documented trap)
    assert abs(apex({"combine": "moving_body"}) - 0.25 * 0.95) < 0.01  # e² of the 0.95 m drop


def test_set_gravity_event_changes_the_fall():
    doc = {"physics": TEXTBOOK, "events": [{"time": 0.5, "type": "set_gravity", "gravity": [0, 0, -1.62]}],
           "bodies": [_ball()]}
    with PhysicsWorld(scene_from_dict(doc)) as world:
        world.step_frames(12)
        measured = _acceleration(world, 0, 12)
    assert abs(measured - 1.62) / 1.62 < 0.01, measured


def test_textbook_free_fall_has_no_damping_error():
    # The default 0.04 damping puts a 0.6 s fall 36 mm off; physics: {linear_damping: 0} does not.
    spec = scene_from_dict({"physics": TEXTBOOK, "bodies": [_ball(linear_damping=None, angular_damping=None)]})
    with PhysicsWorld(spec) as world:
        world.step_frames(int(0.6 * 24))
        t, z = world.time, world.state().positions[0, 2]
    assert abs(z - (10.0 - 0.5 * G * t * t)) <= G * DT * t / 2 + 1e-4
