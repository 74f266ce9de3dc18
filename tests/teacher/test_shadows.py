"""Light visibility from the shadow map: against the ray-cast reference, and against geometry."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from tests.conftest import SCENE_DIR
from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene, scene_from_dict
from worldsim.teacher.camera import project
from worldsim.teacher.shadows import _hidden, light_visibility, map_size, ray_cast_visibility, world_planes
from worldsim.teacher.tiny import render_frame


@pytest.mark.parametrize("name", ["tower_topple", "billiards_break", "panda_push"])
@pytest.mark.parametrize("res", [64, 160])
def test_shadow_map_agrees_with_rays(name, res):
    spec = load_scene(SCENE_DIR / f"{name}.yaml")
    with PhysicsWorld(spec) as world:
        world.step_frames(10)
        frame = render_frame(world, resolution=(res, res), passes="maps")
        rays = ray_cast_visibility(world.client, spec.light.direction, frame.world_position, frame.normals,
                                   frame.segmentation)
    fg = frame.segmentation >= 0
    assert np.mean(frame.light_visibility[fg] == rays[fg]) >= 0.975
    assert (frame.light_visibility[~fg] == 0).all()


def _box_over_floor(sun, eye=(0.0, -2.5, 3.0)):
    return scene_from_dict({
        "bodies": [{"name": "floor", "type": "plane"},
                   {"name": "box", "type": "box", "size": [0.4, 0.4, 0.4], "position": [0, 0, 1.0], "static": True}],
        "cameras": [{"position": list(eye), "target": [0, 0, 0], "resolution": [96, 96]}],
        "light": {"direction": sun}})


def test_the_shadow_falls_where_the_sun_says():
    """Sun from +x at 45°: the box (centre at 1 m) shadows the floor around (-1, 0, 0), not under itself."""
    spec = _box_over_floor([1.0, 0.0, 1.0])
    with PhysicsWorld(spec) as world:
        frame = render_frame(world, passes="maps")
    uv, _ = project(np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.8, 0.6, 0.0]]), frame.intrinsics, frame.extrinsics)
    cols, rows = np.floor(uv).astype(int).T
    shadowed, below, open_floor = frame.light_visibility[rows, cols]
    assert frame.segmentation[rows[0], cols[0]] == 0  # the floor is seen there
    assert shadowed == 0 and below == 1 and open_floor == 1


def test_a_surface_facing_away_from_the_sun_is_dark_and_empty_space_is_zero():
    spec = _box_over_floor([1.0, 0.0, 0.2], eye=(-2.0, -1.5, 2.5))  # sees the top and the face turned away
    with PhysicsWorld(spec) as world:
        frame = render_frame(world, passes="maps")
    box = frame.segmentation == 1
    n_dot_l = frame.normals @ (np.array([1.0, 0.0, 0.2]) / np.hypot(1.0, 0.2))
    assert (box & (n_dot_l < -0.5)).sum() > 50 and (box & (n_dot_l > 0.1)).sum() > 50
    assert frame.light_visibility[box & (n_dot_l > 0.1)].mean() > 0.95
    assert frame.light_visibility[box & (n_dot_l < -0.5)].max() == 0


def test_map_size_follows_the_image_within_limits():
    assert map_size((64, 64)) == 96 and map_size((128, 96)) == 128 and map_size((256, 128)) == 256
    assert map_size((4096, 4096)) == 1024


@pytest.mark.parametrize("name", ["tower_topple", "panda_push"])
def test_leaving_a_plane_out_of_the_map_changes_no_pixel(name):
    """The floor is skipped only where it cannot shadow what the camera sees: same visibility as a map
    drawn with every body."""
    spec = load_scene(SCENE_DIR / f"{name}.yaml")
    with PhysicsWorld(spec) as world:
        world.step_frames(10)
        frame = render_frame(world, resolution=(96, 96), passes="maps")
        planes = world_planes(world)
        everything = light_visibility(world.client, spec.light.direction, frame.world_position, frame.normals,
                                      frame.segmentation)
    assert len(planes) >= 1
    assert np.array_equal(frame.light_visibility, everything)


def test_a_wall_between_the_sun_and_the_floor_still_casts_its_shadow():
    """A vertical plane facing the low sun at x = 0.5 (its top at 0.9 m) shadows the floor
    behind it as far as x = -1.3, so it must stay in the map; the floor in front of it stays lit."""
    spec = scene_from_dict({
        "bodies": [{"name": "floor", "type": "plane"},
                   {"name": "wall", "type": "plane", "size": [1.0, 3.0], "position": [0.5, 0, 0.4],
                    "euler_deg": [0, 90, 0]}],
        "cameras": [{"position": [2.5, -2.0, 3.0], "target": [0, 0, 0], "resolution": [96, 96]}],
        "light": {"direction": [1.0, 0.0, 0.5]}})
    with PhysicsWorld(spec) as world:
        frame = render_frame(world, passes="maps")
        normal = world_planes(world)[1].normal
    assert normal @ np.array([1.0, 0.0, 0.5]) > 0  # the wall faces the sun
    uv, _ = project(np.array([[-1.0, 0.0, 0.0], [1.5, 0.5, 0.0]]), frame.intrinsics, frame.extrinsics)
    cols, rows = np.floor(uv).astype(int).T
    assert list(frame.segmentation[rows, cols]) == [0, 0]
    assert list(frame.light_visibility[rows, cols]) == [0.0, 1.0]


def test_hidden_planes_get_their_colour_back_even_after_an_error():
    spec = load_scene(SCENE_DIR / "tower_topple.yaml")
    with PhysicsWorld(spec) as world:
        planes = world_planes(world)
        before = [pb.getVisualShapeData(p.uid, physicsClientId=world.client) for p in planes]
        with pytest.raises(RuntimeError), _hidden(world.client, planes):
            assert all(s[7][3] == 0 for p in planes for s in pb.getVisualShapeData(p.uid, physicsClientId=world.client))
            raise RuntimeError("inside the pass")
        after = [pb.getVisualShapeData(p.uid, physicsClientId=world.client) for p in planes]
    assert after == before
