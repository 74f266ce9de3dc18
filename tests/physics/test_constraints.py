"""Constraints from the scene format against analytic answers: a hinge pendulum's period, a fixed
joint that holds, a ball joint that keeps its length; and continuous collision detection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from worldsim.physics import PhysicsWorld
from worldsim.scene import scene_from_dict

G = 9.81
TEXTBOOK = {"linear_damping": 0.0, "angular_damping": 0.0}


def _pendulum(kind: str, theta0: float, length: float = 1.0, radius: float = 0.05, iterations: int = 50, **con) -> dict:
    bob = [length * math.sin(theta0), 0.0, 2.0 - length * math.cos(theta0)]
    return {"physics": TEXTBOOK, "sim": {"fps": 240.0, "duration": 5.0, "solver_iterations": iterations},
            "bodies": [{"name": "bob", "type": "sphere", "radius": radius, "mass": 1.0, "position": bob}],
            "constraints": [{"type": kind, "body": "bob", "pivot": [0, 0, 2.0], **con}]}


def _crossings(xs: np.ndarray, dt: float) -> np.ndarray:
    """Times where x crosses zero from below (linearly interpolated)."""
    idx = np.where((xs[:-1] < 0) & (xs[1:] >= 0))[0]
    return (idx + xs[idx] / (xs[idx] - xs[idx + 1])) * dt


# The constraints are solved iteratively, so their accuracy follows sim.solver_iterations (measured).
@pytest.mark.parametrize("iterations, tolerance, out_of_plane", [(50, 0.005, 2e-3), (200, 0.002, 5e-4)])
def test_hinge_pendulum_period_matches_the_physical_pendulum(iterations, tolerance, out_of_plane):
    theta0, length, radius = math.radians(5), 1.0, 0.05
    spec = scene_from_dict(_pendulum("hinge", theta0, length, radius, iterations, axis=[0, 1, 0]))
    with PhysicsWorld(spec) as world:
        xs, ys = [], []
        for _ in range(int(6.0 * 240)):
            world.step(1)
            p = world.state().positions[0]
            xs.append(p[0])
            ys.append(p[1])
    # T = 2π √(I / m g L), I = m L² + 2/5 m r², with the small-amplitude correction (1 + θ0²/16).
    expected = 2 * math.pi * math.sqrt((length**2 + 0.4 * radius**2) / (G * length)) * (1 + theta0**2 / 16)
    periods = np.diff(_crossings(np.asarray(xs), 1 / 240))
    assert len(periods) >= 2
    assert abs(periods.mean() - expected) / expected < tolerance, (periods, expected)
    assert np.max(np.abs(ys)) < out_of_plane  # the hinge keeps it in its plane (1.4 / 0.3 mm over 6 s)


@pytest.mark.parametrize("iterations, stretch", [(50, 1e-2), (200, 2e-3)])
def test_ball_joint_keeps_the_bob_at_its_length(iterations, stretch):
    # Swinging through ±40°: the joint stretched 7.8 mm at 50 iterations and 1.5 mm at 200.
    spec = scene_from_dict(_pendulum("ball", math.radians(40), iterations=iterations))
    with PhysicsWorld(spec) as world:
        dists = []
        for _ in range(240):
            world.step(1)
            dists.append(np.linalg.norm(world.state().positions[0] - [0, 0, 2.0]))
    assert max(abs(d - 1.0) for d in dists) < stretch


def test_fixed_joint_holds_a_body_and_a_lid_to_its_box():
    spec = scene_from_dict({"bodies": [
        {"name": "floor", "type": "plane"},
        {"name": "shelf", "type": "box", "size": [0.4, 0.2, 0.05], "mass": 5.0, "position": [0, 0, 1.0]},
        {"name": "box", "type": "box", "size": [0.2, 0.2, 0.2], "mass": 1.0, "position": [1, 0, 0.1]},
        {"name": "lid", "type": "box", "size": [0.2, 0.2, 0.02], "mass": 0.2, "position": [1, 0, 0.21]}],
        "constraints": [{"type": "fixed", "body": "shelf"}, {"type": "fixed", "body": "lid", "to": "box"}],
        "events": [{"time": 0.2, "type": "impulse", "body": "box", "impulse": [2.0, 0, 0]}]})
    with PhysicsWorld(spec) as world:
        world.step_frames(24)
        s = world.state()
    assert np.linalg.norm(s.positions[1] - [0, 0, 1.0]) < 1e-3  # the shelf hangs where it was put
    assert s.positions[2, 0] > 1.2  # the box slid
    assert np.linalg.norm((s.positions[3] - s.positions[2]) - [0, 0, 0.11]) < 2e-3  # the lid came along


def test_ccd_stops_a_small_fast_body_tunnelling_through_a_thin_wall():
    def final_x(ccd: bool) -> float:
        spec = scene_from_dict({"sim": {"gravity": [0, 0, 0]}, "bodies": [
            {"name": "wall", "type": "box", "static": True, "size": [0.02, 1.0, 1.0], "position": [1.0, 0, 0]},
            {"name": "pellet", "type": "sphere", "radius": 0.005, "mass": 0.01, "position": [0, 0, 0],
             "linear_velocity": [60.0, 0, 0], "ccd": ccd}]})
        with PhysicsWorld(spec) as world:
            world.step_frames(3)
            return float(world.state().positions[1, 0])

    assert final_x(False) > 1.01  # 0.25 m per step: straight through the 2 cm wall
    assert final_x(True) < 0.99  # stopped (or bounced) on the near side
