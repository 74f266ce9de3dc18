"""PhysicsWorld behaviour users rely on: determinism, save/restore, branching, events, blow-ups."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.errors import PhysicsError
from worldsim.physics import PhysicsWorld
from worldsim.recording import rollout
from worldsim.scene import load_scene, scene_from_dict

from ..conftest import ROOT


def test_same_seed_gives_bit_identical_state():
    spec = load_scene(ROOT / "scenes" / "tower_topple.yaml")
    a = rollout(spec, seed=1, frames=30, render=False).state_arrays()
    b = rollout(spec, seed=1, frames=30, render=False).state_arrays()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_restore_reproduces_continuation_exactly():
    spec = load_scene(ROOT / "scenes" / "billiards_break.yaml")
    with PhysicsWorld(spec) as world:
        world.step_frames(8)
        snap = world.snapshot()
        world.step_frames(20)
        first = world.state()
        world.restore(snap)
        world.step_frames(20)
        second = world.state()
    assert np.array_equal(first.positions, second.positions)
    assert np.array_equal(first.velocities, second.velocities)


def test_branch_on_mass_changes_outcome():
    spec = scene_from_dict({"bodies": [
        {"name": "floor", "type": "plane"},
        {"name": "block", "type": "box", "size": [0.2, 0.2, 0.2], "mass": 1.0, "position": [0, 0, 0.1]}]})
    with PhysicsWorld(spec) as world:
        world.step_frames(4)
        snap = world.snapshot()
        world.apply_impulse("block", [2.0, 0, 0])
        world.step_frames(24)
        light = world.state().positions[1, 0]
        world.restore(snap)
        world.set_dynamics("block", mass=4.0)
        world.apply_impulse("block", [2.0, 0, 0])
        world.step_frames(24)
        heavy = world.state().positions[1, 0]
    assert light > 0.2 and heavy < light / 2


def test_spawn_and_remove_set_presence():
    rec = rollout(load_scene(ROOT / "scenes" / "projectile_stack.yaml"), frames=24, render=False)
    arrays = rec.state_arrays()
    names = list(arrays["body_names"])
    bullet, marker = names.index("bullet"), names.index("marker")
    present = arrays["present"]
    assert not present[0, bullet] and present[-1, bullet]
    assert present[0, marker] and not present[-1, marker]
    assert arrays["positions"][-1, bullet, 0] > -0.9  # it flew towards the stack


def test_joint_positions_and_target():
    spec = scene_from_dict({"bodies": [{"name": "arm", "type": "urdf", "file": "kuka_iiwa/model.urdf", "static": True,
                                        "joint_positions": {"lbr_iiwa_joint_2": 0.3}}],
                            "events": [{"time": 0.1, "type": "joint_target", "body": "arm",
                                        "joint": "lbr_iiwa_joint_1", "position": 0.8}]})
    joints = rollout(spec, frames=48, render=False).state_arrays()["joint_positions__arm"]
    assert abs(joints[0, 1] - 0.3) < 1e-6 and abs(joints[0, 0]) < 1e-6
    assert abs(joints[-1, 0] - 0.8) < 0.02 and abs(joints[-1, 1] - 0.3) < 0.02


def test_collisions_are_recorded():
    arrays = rollout(load_scene(ROOT / "scenes" / "billiards_break.yaml"), frames=30, render=False).state_arrays()
    names = list(arrays["body_names"])
    pairs = {tuple(p) for p in arrays["collision_bodies"]}
    assert (names.index("cue"), names.index("r1")) in pairs
    assert np.all(arrays["collision_force"] > 0)


def test_blow_up_is_detected():
    spec = scene_from_dict({"bodies": [{"name": "ball", "type": "sphere", "radius": 0.1}]})
    with PhysicsWorld(spec) as world:
        world.set_velocity("ball", [1e5, 0, 0])
        with pytest.raises(PhysicsError, match="blew up"):
            world.step_frames(1)
        with pytest.raises(PhysicsError, match="finite"):
            world.set_velocity("ball", [float("nan"), 0, 0])
