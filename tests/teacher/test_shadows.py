"""Light visibility from the shadow map: against the ray-cast reference, and against geometry."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SCENE_DIR
from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene, scene_from_dict
from worldsim.teacher.camera import project
from worldsim.teacher.shadows import map_size, ray_cast_visibility
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
