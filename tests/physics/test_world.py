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


def test_restore_after_set_dynamics_matches_an_unchanged_run_bit_for_bit():
    """The README quickstart: snapshot, set_dynamics, step, restore is the original continuation."""
    spec = load_scene(ROOT / "scenes" / "tower_topple.yaml")
    with PhysicsWorld(spec) as world:
        world.step_frames(12)
        snap = world.snapshot()
        world.step_frames(24)
        unchanged, mass = world.state(), world.masses()
        world.restore(snap)
        world.set_dynamics("b4", mass=10.0, lateralFriction=0.1, linearDamping=0.5)
        world.set_gravity([0.0, 0.0, -3.0])
        world.step_frames(24)
        branched = world.state()
        world.restore(snap)
        world.step_frames(24)
        restored = world.state()
        assert np.array_equal(world.masses(), mass)
    assert not np.array_equal(branched.positions, unchanged.positions)
    for key in ("positions", "quaternions", "velocities", "angular_velocities"):
        assert np.array_equal(getattr(restored, key), getattr(unchanged, key)), key


def test_set_dynamics_event_is_restored_by_an_earlier_snapshot():
    doc = {"bodies": [{"name": "floor", "type": "plane"},
                      {"name": "block", "type": "box", "size": [0.2, 0.2, 0.2], "position": [0, 0, 0.1],
                       "linear_velocity": [2.0, 0, 0]}],
           "events": [{"time": 0.1, "type": "set_dynamics", "body": "block", "friction": 0.0, "mass": 3.0}]}
    with PhysicsWorld(scene_from_dict(doc)) as world:
        snap = world.snapshot()
        world.step_frames(12)
        assert world.masses()[1] == 3.0
        world.restore(snap)
        assert world.masses()[1] == pytest.approx(0.2**3 * 500)
        world.step_frames(12)  # the event fires again from the restored queue
        assert world.masses()[1] == 3.0


def test_set_dynamics_refuses_an_unknown_keyword():
    spec = scene_from_dict({"bodies": [{"name": "b", "type": "sphere", "radius": 0.1}]})
    with PhysicsWorld(spec) as world, pytest.raises(PhysicsError, match="frction"):
        world.set_dynamics("b", frction=0.1)


def test_urdf_position_is_the_frame_the_scene_placed():
    # KUKA's base link has its inertial origin at (-0.1, 0, 0.07): PyBullet's base position is there.
    spec = scene_from_dict({"bodies": [
        {"name": "floor", "type": "plane"},
        {"name": "kuka", "type": "urdf", "file": "kuka_iiwa/model.urdf", "static": True, "position": [1.3, 0, 0]},
        {"name": "duck", "type": "urdf", "file": "duck_vhacd.urdf", "position": [0, 1.0, 0.5], "euler_deg": [90, 0, 0]}]})
    with PhysicsWorld(spec) as world:
        s = world.state()
        assert np.allclose(s.positions[1], [1.3, 0, 0], atol=1e-9)
        assert np.allclose(s.centers_of_mass[1], [1.2, 0, 0.07], atol=1e-9)
        assert np.allclose(s.positions[2], [0, 1.0, 0.5], atol=1e-9)
        # Velocity of the placed frame: v_com + ω × (frame − com); a spinning duck's frame moves.
        world.set_velocity("duck", [0, 0, 0], [0, 0, 5.0])
        s = world.state()
        expected = np.cross([0, 0, 5.0], s.positions[2] - s.centers_of_mass[2])
        assert np.allclose(s.velocities[2], expected, atol=1e-9)
        world.set_pose("duck", [0.5, 0.5, 1.0], [0, 0, 0, 1])
        assert np.allclose(world.state().positions[2], [0.5, 0.5, 1.0], atol=1e-9)
    arrays = rollout(spec, frames=2, render=False).state_arrays()
    assert arrays["centers_of_mass"].shape == arrays["positions"].shape


@pytest.mark.filterwarnings("ignore::worldsim.errors.SceneWarning")  # a 10 kg ball beside a 0.1 kg duck
def test_urdf_keeps_its_own_contact_values_unless_the_scene_sets_them():
    import pybullet as pb

    spec = scene_from_dict({"bodies": [
        {"name": "duck", "type": "urdf", "file": "duck_vhacd.urdf"},
        {"name": "ball", "type": "urdf", "file": "sphere2.urdf", "position": [1, 0, 0]},
        {"name": "ball2", "type": "urdf", "file": "sphere2.urdf", "position": [2, 0, 0], "rolling_friction": 0.1}]})
    with PhysicsWorld(spec) as world:
        duck, ball, ball2 = (pb.getDynamicsInfo(world.uid(n), -1, physicsClientId=world.client)
                             for n in ("duck", "ball", "ball2"))
    assert duck[1] == pytest.approx(1.0)  # <lateral_friction value="1.0"/>, not the scene default 0.5
    assert ball[6] == pytest.approx(0.03) and ball[7] == pytest.approx(0.03)  # rolling, spinning from the file
    assert ball2[6] == pytest.approx(0.1)  # the scene's value wins where it sets one


@pytest.mark.parametrize("tilt", [[30, 20, 10], [10, 5, 3]])
def test_a_one_centimetre_cube_rests_on_the_floor(tilt):
    import pybullet as pb

    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"},
                                       {"name": "cube", "type": "box", "size": [0.01] * 3, "position": [0, 0, 0.02],
                                        "euler_deg": tilt}]})
    with PhysicsWorld(spec) as world:
        world.step_frames(48)
        s = world.state()
    rot = np.asarray(pb.getMatrixFromQuaternion(s.quaternions[1].tolist())).reshape(3, 3)
    lowest = s.positions[1, 2] - 0.005 * np.abs(rot[2]).sum()  # the lowest corner
    spin = np.linalg.norm(s.angular_velocities[1])
    assert lowest > -5e-5, lowest  # was 2.5 mm below with Bullet's plane shape, spinning at 10 rad/s
    assert spin < 0.05


def test_overlapping_bodies_warn_naming_file_and_both_bodies(tmp_path):
    from worldsim.errors import SceneWarning

    path = tmp_path / "overlap.yaml"
    path.write_text("bodies:\n"
                    "  - {name: floor, type: plane}\n"
                    "  - {name: a, type: box, size: [0.4, 0.4, 0.4], position: [0, 0, 0.2]}\n"
                    "  - {name: b, type: box, size: [0.4, 0.4, 0.4], position: [0.1, 0, 0.3]}\n")
    with pytest.warns(SceneWarning, match=r"overlap\.yaml: bodies 'a' and 'b' overlap by \d+\.\d mm at t = 0") as rec:
        PhysicsWorld(load_scene(path)).close()
    assert len(rec) == 1  # resting on the floor is not an overlap


def test_bundled_scenes_do_not_warn():
    import warnings

    from ..conftest import SCENES

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path in SCENES:
            PhysicsWorld(load_scene(path)).close()
