"""Light copies of heavy URDF visual meshes: far fewer triangles, the same picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as pb
import pybullet_data
import trimesh

import worldsim.physics.builders as builders
from worldsim import PhysicsWorld, load_scene, render_frame
from worldsim.physics.decimate import VISUAL_FACE_BUDGET, light_urdf, visual_faces_for

PANDA = f"{pybullet_data.getDataPath()}/franka_panda/panda.urdf"


def _visual_faces(urdf: str) -> int:
    client = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(urdf, physicsClientId=client)
        files = {d[4].decode() for d in pb.getVisualShapeData(uid, physicsClientId=client)}
    finally:
        pb.disconnect(client)
    return sum(len(trimesh.load(f, force="mesh", process=False).faces) for f in files)


def test_the_panda_copy_is_much_lighter():
    light = light_urdf(PANDA)
    assert light != PANDA
    assert _visual_faces(light) < _visual_faces(PANDA) / 3


def test_a_light_urdf_is_cached_and_a_light_one_is_returned_as_is():
    assert light_urdf(PANDA) == light_urdf(PANDA)
    cube = f"{pybullet_data.getDataPath()}/cube.urdf"
    assert light_urdf(cube) == str(Path(cube).resolve())


def test_the_picture_keeps_its_silhouette_and_colours(monkeypatch):
    spec = load_scene("scenes/tasks/panda_push.yaml")
    frames = {}
    for name, load in (("full", lambda path, faces: str(path)), ("light", light_urdf)):
        monkeypatch.setattr(builders, "light_urdf", load)
        world = PhysicsWorld(spec, seed=0)
        frames[name] = render_frame(world, None, (128, 128), passes="maps", visibility=True)
        world.close()
    full, light = frames["full"], frames["light"]
    assert (full.segmentation == light.segmentation).mean() > 0.995
    mse = np.mean((full.albedo.astype(float) - light.albedo.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 30  # the palette colours survive (the Panda's grey parts)
    assert (np.abs(full.light_visibility - light.light_visibility) < 0.5).mean() > 0.99


def test_small_images_draw_lighter_meshes_with_the_same_picture():
    small = visual_faces_for(64)
    assert small < VISUAL_FACE_BUDGET == visual_faces_for(256)
    assert _visual_faces(light_urdf(PANDA, small)) < _visual_faces(light_urdf(PANDA)) / 2
    spec = load_scene("scenes/tasks/panda_push.yaml")
    frames = {}
    for faces in (VISUAL_FACE_BUDGET, small):
        world = PhysicsWorld(spec, seed=0, visual_faces=faces)
        frames[faces] = render_frame(world, None, (64, 64), passes="maps", visibility=True)
        world.close()
    assert (frames[VISUAL_FACE_BUDGET].segmentation == frames[small].segmentation).mean() > 0.995
    assert (np.abs(frames[VISUAL_FACE_BUDGET].light_visibility - frames[small].light_visibility) < 0.5).mean() > 0.99
