"""The compiled map pass against TinyRenderer's, which the shipped models learned from."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from tests.conftest import SCENE_DIR
from worldsim.physics import PhysicsWorld
from worldsim.physics.builders import applied_textures
from worldsim.physics.decimate import visual_faces_for
from worldsim.scene import load_scene
from worldsim.teacher.maps import render_maps
from worldsim.teacher.scene_mesh import scene_mesh
from worldsim.teacher.tiny import render_frame

TASKS = SCENE_DIR / "tasks"


def _agreement(ours, tiny) -> dict[str, float]:
    same = (ours.segmentation == tiny.segmentation) & (tiny.segmentation >= 0)
    return {
        "segmentation": float(np.mean(ours.segmentation == tiny.segmentation)),
        "depth": float(np.percentile(np.abs(ours.depth - tiny.depth)[same], 95)),
        "albedo": float(np.abs(ours.albedo.astype(int) - tiny.albedo.astype(int))[same].mean()),
        "visibility": float(np.mean(ours.light_visibility[same] == tiny.light_visibility[same])),
        "normals": float(np.abs(ours.normals - tiny.normals)[same].mean()),
    }


@pytest.mark.parametrize(("path", "res"), [(TASKS / "panda_push.yaml", 64), (SCENE_DIR / "tower_topple.yaml", 96),
                                           (SCENE_DIR / "billiards_break.yaml", 64)])
def test_maps_match_tinyrenderer(path, res):
    spec = load_scene(path)
    with PhysicsWorld(spec, visual_faces=visual_faces_for(res)) as world:
        world.step_frames(6)
        ours = render_maps([(scene_mesh(world), spec.camera(None))], (res, res))[0]
        tiny = render_frame(world, resolution=(res, res), passes="maps")
    agree = _agreement(ours, tiny)
    assert agree["segmentation"] >= 0.995, agree
    assert agree["depth"] <= 1e-3, agree
    assert agree["albedo"] <= 3.0, agree
    assert agree["visibility"] >= 0.97, agree
    assert agree["normals"] <= 0.01, agree
    same = ours.segmentation == tiny.segmentation
    np.testing.assert_array_equal(ours.material[same], tiny.material[same])


def test_randomized_colours_and_textures_are_drawn():
    """Colours and checkers painted after the world was built (the envs' visual randomization)."""
    from worldsim_envs import randomization

    spec = load_scene(TASKS / "panda_push.yaml")
    with PhysicsWorld(spec, visual_faces=visual_faces_for(64)) as world:
        mesh = scene_mesh(world)
        before = render_maps([(mesh, spec.camera(None))], (64, 64), visibility=False)[0].albedo
        rng = np.random.default_rng(3)
        look = randomization.draw(world, ["main"], rng)
        while not look.textures:  # make sure a checker is painted too
            look = randomization.draw(world, ["main"], rng)
        randomization.apply(world, look)
        ours = render_maps([(mesh, spec.camera(None))], (64, 64), visibility=False)[0]
        tiny = render_frame(world, resolution=(64, 64), passes="maps", visibility=False)
        assert applied_textures(world.client)
    agree = _agreement(ours, tiny)
    assert agree["albedo"] <= 3.0, agree
    assert np.abs(before.astype(int) - ours.albedo.astype(int)).mean() > 10  # the look did change


def test_a_batch_draws_each_view_as_alone():
    spec = load_scene(TASKS / "panda_push.yaml")
    other = spec.camera(None).model_copy(update={"position": [0.5, 0.7, 0.6]})
    with PhysicsWorld(spec, visual_faces=visual_faces_for(64)) as world:
        mesh = scene_mesh(world)
        both = render_maps([(mesh, spec.camera(None)), (mesh, other)], (64, 64))
        alone = [render_maps([(mesh, cam)], (64, 64))[0] for cam in (spec.camera(None), other)]
    for a, b in zip(both, alone, strict=True):
        for key in ("segmentation", "depth", "albedo", "light_visibility"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert (both[0].segmentation != both[1].segmentation).any()


def test_closed_worlds_are_forgotten():
    spec = load_scene(TASKS / "panda_push.yaml")
    world = PhysicsWorld(spec)
    scene_mesh(world)
    client = world.client
    assert applied_textures(client)  # the table's checker
    world.close()
    assert not applied_textures(client)
    from worldsim.teacher import scene_mesh as module

    del world
    gc.collect()
    assert len(module._MESHES) == 0
