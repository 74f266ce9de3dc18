"""Scene validation: good scenes load, bad ones are refused naming file, field and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from worldsim.errors import SceneError
from worldsim.scene import load_scene, scene_from_dict
from worldsim.scene.schema import MeshBody, UrdfBody

from ..conftest import ROOT, SCENES

ASSETS = ROOT / "scenes" / "assets"


def _write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return path


def _base() -> dict:
    return {"bodies": [{"name": "floor", "type": "plane"},
                       {"name": "ball", "type": "sphere", "radius": 0.1, "position": [0, 0, 1]}]}


@pytest.mark.parametrize("path", SCENES, ids=lambda p: p.stem)
def test_bundled_scenes_validate(path):
    spec = load_scene(path)
    assert spec.bodies and spec.cameras


def test_scene_library_exercises_every_body_and_event_kind():
    bodies = {b.type for p in SCENES for b in load_scene(p).bodies}
    events = {e.type for p in SCENES for e in load_scene(p).events}
    assert bodies == {"box", "sphere", "cylinder", "capsule", "plane", "mesh", "urdf"}
    assert events == {"impulse", "force", "set_velocity", "spawn", "remove", "joint_target"}
    formats = {Path(b.file).suffix for p in SCENES for b in load_scene(p).bodies if isinstance(b, MeshBody)}
    assert {".obj", ".stl", ".glb", ".ply"} <= formats
    urdfs = {Path(b.file).name for p in SCENES for b in load_scene(p).bodies if isinstance(b, UrdfBody)}
    assert {"panda.urdf", "model.urdf"} <= urdfs
    assert len(SCENES) >= 10


def _error(tmp_path, doc) -> SceneError:
    path = _write(tmp_path, doc)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert str(path) in str(info.value)
    return info.value


def test_unknown_key_names_field(tmp_path):
    doc = _base()
    doc["bodies"][1]["raduis"] = 0.2
    err = _error(tmp_path, doc)
    assert err.field == "bodies[1].raduis" and "unknown key" in str(err)


def test_wrong_type_names_field(tmp_path):
    doc = _base()
    doc["bodies"][1]["radius"] = "big"
    err = _error(tmp_path, doc)
    assert err.field == "bodies[1].radius" and "valid number" in str(err)


def test_negative_mass_names_field_and_expectation(tmp_path):
    doc = _base()
    doc["bodies"][1]["mass"] = -1.0
    err = _error(tmp_path, doc)
    assert err.field == "bodies[1].mass" and "greater than 0" in str(err) and "-1.0" in str(err)


def test_zero_size_box(tmp_path):
    doc = _base()
    doc["bodies"].append({"name": "b", "type": "box", "size": [1, 0, 1]})
    assert _error(tmp_path, doc).field == "bodies[2].size[1]"


def test_missing_mesh_file(tmp_path):
    doc = _base()
    doc["bodies"].append({"name": "m", "type": "mesh", "file": "nope.obj"})
    err = _error(tmp_path, doc)
    assert err.field == "bodies[2].file" and "not found" in str(err)


def test_non_manifold_mesh_refused_for_dynamic_body_only(tmp_path):
    doc = _base()
    doc["bodies"].append({"name": "m", "type": "mesh", "file": str(ASSETS / "sheet.obj")})
    err = _error(tmp_path, doc)
    assert err.field == "bodies[2].file" or err.field == "bodies[2]"
    assert "watertight" in str(err)
    doc["bodies"][2]["static"] = True
    assert load_scene(_write(tmp_path, doc)).bodies[2].static


def test_wrong_mesh_extension(tmp_path):
    bogus = tmp_path / "thing.txt"
    bogus.write_text("hello")
    doc = _base()
    doc["bodies"].append({"name": "m", "type": "mesh", "file": str(bogus)})
    assert "unsupported file type" in str(_error(tmp_path, doc))


def test_empty_mesh(tmp_path):
    empty = tmp_path / "empty.obj"
    empty.write_text("# nothing\n")
    doc = _base()
    doc["bodies"].append({"name": "m", "type": "mesh", "file": str(empty), "static": True})
    err = _error(tmp_path, doc)
    assert "mesh" in str(err) and err.field.startswith("bodies[2]")


def test_unknown_body_type(tmp_path):
    doc = _base()
    doc["bodies"][1]["type"] = "blob"
    err = _error(tmp_path, doc)
    assert err.field == "bodies[1]" and "'sphere'" in str(err)


def test_event_must_name_a_body(tmp_path):
    doc = _base()
    doc["events"] = [{"time": 0.1, "type": "impulse", "body": "ghost", "impulse": [1, 0, 0]}]
    assert "ghost" in str(_error(tmp_path, doc))


def test_nan_refused(tmp_path):
    doc = _base()
    doc["bodies"][1]["position"] = [0, float("nan"), 1]
    assert _error(tmp_path, doc).field == "bodies[1].position[1]"


def test_yaml_syntax_error_has_line(tmp_path):
    err = _error(tmp_path, "bodies: [\n  {name: a, type: sphere\n")
    assert "line" in str(err) and "YAML" in str(err)


def test_duplicate_yaml_key_refused(tmp_path):
    err = _error(tmp_path, "bodies:\n  - {name: a, type: sphere, radius: 1}\nbodies: []\n")
    assert "duplicate key" in str(err)


def test_frame_rate_must_divide_timestep(tmp_path):
    doc = _base()
    doc["sim"] = {"fps": 25, "timestep": 1 / 240}
    assert _error(tmp_path, doc).field == "sim"


def test_python_api_builds_the_same_scene():
    spec = scene_from_dict(_base())
    assert spec.body("ball").radius == 0.1 and spec.camera().name == "main"


def test_urdf_unknown_joint_is_a_scene_error_at_validation():
    with pytest.raises(SceneError, match="elbow") as info:
        scene_from_dict({"bodies": [{"name": "arm", "type": "urdf", "file": "kuka_iiwa/model.urdf",
                                     "joint_positions": {"elbow": 1.0}}]}, file="arm.yaml")
    assert info.value.file == "arm.yaml" and info.value.field == "bodies[0].joint_positions"


def test_pbr_and_lighting_fields_have_defaults_and_are_checked():
    from worldsim.errors import SceneError
    from worldsim.scene import scene_from_dict

    spec = scene_from_dict({"bodies": [{"name": "a", "type": "sphere", "radius": 0.1, "material": "glossy", "metallic": 1.0}]})
    assert spec.bodies[0].pbr == (0.08, 1.0, 0.8)
    assert spec.environment.kind == "sky" and spec.area_lights == []
    for bad, field in [({"roughness": 1.5}, "bodies[0].roughness"), ({"metallic": "yes"}, "bodies[0].metallic")]:
        with pytest.raises(SceneError, match=field.replace("[", r"\[").replace("]", r"\]")):
            scene_from_dict({"bodies": [{"name": "a", "type": "sphere", "radius": 0.1, **bad}]})
    with pytest.raises(SceneError, match=r"area_lights\[0\]"):
        scene_from_dict({"bodies": [{"name": "a", "type": "sphere", "radius": 0.1}],
                         "area_lights": [{"position": [0, 0, 1], "target": [0, 0, 1]}]})
    with pytest.raises(SceneError, match="environment.kind"):
        scene_from_dict({"bodies": [{"name": "a", "type": "sphere", "radius": 0.1}], "environment": {"kind": "hdri"}})


KUKA = {"name": "arm", "type": "urdf", "file": "kuka_iiwa/model.urdf", "static": True}
BALL = {"name": "ball", "type": "sphere", "radius": 0.1}


@pytest.mark.parametrize("doc, field, message", [
    ({"bodies": [KUKA], "events": [{"time": 0.1, "type": "joint_target", "body": "arm", "joint": "elbow", "position": 1.0}]},
     "events[0].joint", "'arm' has no movable joint 'elbow'; it has lbr_iiwa_joint_1"),
    ({"bodies": [BALL], "events": [{"time": 0.1, "type": "set_dynamics", "body": "ball"}]},
     "events[0]", "set_dynamics changes nothing"),
    ({"bodies": [BALL], "events": [{"time": 0.1, "type": "set_dynamics", "body": "ball", "friction": -1.0}]},
     "events[0].friction", "greater than or equal to 0"),
    ({"bodies": [KUKA], "events": [{"time": 0.1, "type": "set_dynamics", "body": "arm", "friction": 0.1}]},
     "events[0]", "set_dynamics needs a moving body, 'arm' is static"),
    ({"bodies": [BALL], "events": [{"time": 0.1, "type": "set_gravity", "gravity": [0, 0]}]},
     "events[0].gravity", "at least 3"),
    ({"bodies": [BALL], "constraints": [{"type": "hinge", "body": "ball", "axis": [0, 0, 0]}]},
     "constraints[0].axis", "must not be all zeros"),
    ({"bodies": [BALL], "constraints": [{"type": "ball", "body": "bal"}]},
     "constraints[0].body", "no body named 'bal'; bodies are ball"),
    ({"bodies": [BALL], "constraints": [{"type": "fixed", "body": "ball", "to": "ball"}]},
     "constraints[0].to", "cannot be constrained to itself"),
    ({"bodies": [{**BALL, "static": True}], "constraints": [{"type": "fixed", "body": "ball"}]},
     "constraints[0]", "needs at least one moving body"),
    ({"bodies": [BALL, {"name": "floor", "type": "plane"}], "constraints": [{"type": "fixed", "body": "ball", "to": "floor"}]},
     "constraints[0].to", "a plane cannot be constrained"),
    ({"bodies": [BALL], "physics": {"combine": "sum"}}, "physics.combine", "'product' or 'moving_body'"),
    ({"bodies": [BALL], "physics": {"linear_damping": -0.1}}, "physics.linear_damping", "greater than or equal to 0"),
    ({"bodies": [{**BALL, "ccd": "yes"}]}, "bodies[0].ccd", "valid boolean"),
])
def test_new_scene_fields_name_file_and_field(doc, field, message):
    with pytest.raises(SceneError) as info:
        scene_from_dict(doc, file="mine.yaml")
    assert info.value.file == "mine.yaml"
    assert info.value.field == field, str(info.value)
    assert message in info.value.detail, str(info.value)


def test_randomize_and_sweep_reach_fields_left_to_the_physics_defaults():
    from worldsim.scene import sample, with_values

    spec = scene_from_dict({"bodies": [BALL], "randomize": {"bodies[ball].friction": {"uniform": [0.1, 0.2]}}})
    assert 0.1 <= sample(spec, 3).bodies[0].friction <= 0.2
    assert with_values(scene_from_dict({"bodies": [BALL]}), {"bodies[ball].restitution": 0.5}).bodies[0].restitution == 0.5
