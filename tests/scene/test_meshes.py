"""Mesh files as validation sees them: seams split by UVs or normals do not make a closed mesh open."""

from __future__ import annotations

import os

import pybullet_data
import pytest

from worldsim.errors import SceneError
from worldsim.physics import PhysicsWorld
from worldsim.scene import scene_from_dict
from worldsim.scene.mass import body_mass
from worldsim.scene.meshes import mesh_volume

DATA = pybullet_data.getDataPath()


@pytest.mark.parametrize("name", ["duck.obj", "cube.obj"])
def test_obj_exported_with_uvs_is_a_closed_moving_body(name):
    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"},
                                       {"name": "m", "type": "mesh", "file": os.path.join(DATA, name), "mass": 1.0,
                                        "scale": [0.05], "position": [0, 0, 0.5]}]})
    with PhysicsWorld(spec) as world:
        world.step_frames(24)
        assert world.state().positions[1, 2] < 0.5  # it fell: a moving body


def test_cube_obj_volume_and_density_mass():
    assert mesh_volume(os.path.join(DATA, "cube.obj"), [1.0, 1.0, 1.0]) == pytest.approx(1.0)
    spec = scene_from_dict({"bodies": [{"name": "m", "type": "mesh", "file": os.path.join(DATA, "cube.obj"),
                                        "scale": [0.1], "density": 1000.0}]})
    assert body_mass(spec.bodies[0]) == pytest.approx(1.0)


def test_an_open_mesh_is_still_refused_for_a_moving_body(tmp_path):
    path = tmp_path / "open.obj"  # a box with its top missing
    path.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
                    "f 1 3 2\nf 1 4 3\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n")
    with pytest.raises(SceneError, match="not watertight") as info:
        scene_from_dict({"bodies": [{"name": "m", "type": "mesh", "file": str(path), "mass": 1.0}]}, file="s.yaml")
    assert info.value.field == "bodies[0]"


def test_validating_a_scene_does_not_load_pybullet():
    import subprocess
    import sys

    code = ("import sys; from worldsim.scene import scene_from_dict; "
            f"scene_from_dict({{'bodies': [{{'name': 'm', 'type': 'mesh', 'file': {os.path.join(DATA, 'duck.obj')!r}, "
            "'mass': 1.0}, {'name': 'k', 'type': 'urdf', 'file': 'kuka_iiwa/model.urdf'}]}); "
            "print('pybullet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
