"""Property-based fuzzing of scene documents and mesh files (hypothesis).

Every generated document, valid or broken, must either simulate or be refused with the library's
own :class:`SceneError` naming the field (a body that blows up must raise :class:`PhysicsError`);
never another exception, a hang or a crash of the physics engine. CI runs a few hundred cases;
``WORLDSIM_FUZZ_EXAMPLES=10000 python -m pytest tests/scene/test_fuzz.py -s`` runs the full count
and prints how many simulated, were refused, or blew up.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worldsim.errors import PhysicsError, SceneError
from worldsim.physics import PhysicsWorld
from worldsim.scene import sample, scene_from_dict

EXAMPLES = int(os.environ.get("WORLDSIM_FUZZ_EXAMPLES", 300))
ASSETS = Path(__file__).resolve().parents[2] / "scenes" / "assets"

# --- building blocks ------------------------------------------------------------------------------
weird_numbers = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1e300, -1.0, 1e9, -1e9, 2**63])
numbers = st.one_of(st.floats(-5, 5), st.integers(-3, 10), weird_numbers)
junk = st.one_of(st.none(), st.booleans(), st.text(max_size=6), weird_numbers, st.lists(numbers, max_size=4),
                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2), st.just("1.0"), st.just("yes"),
                 st.text(alphabet="é漢🙂\u0000\u202e", min_size=1, max_size=5))
vec3 = st.lists(st.floats(-2, 2), min_size=3, max_size=3)
positive = st.floats(0.01, 1.0)
names = st.sampled_from(["a", "b", "c", "ball", "floor", "obj_1"])  # junk names come from the mutations


def _mesh_files(root: Path) -> list[str]:
    """Good and broken mesh files: assets, empty, random bytes, one triangle, degenerate, wrong extension."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {
        "empty.obj": b"", "bytes.stl": rng.bytes(300), "bytes.glb": rng.bytes(200), "bytes.ply": b"ply\n" + rng.bytes(100),
        "triangle.obj": b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "point.obj": b"v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n",
        "line.obj": b"v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n", "text.txt": b"not a mesh",
        "nan.obj": b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
        "badface.obj": b"v 0 0 0\nv 1 0 0\nf 1 2 9\n",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return [str(root / n) for n in files] + [str(ASSETS / n) for n in ("cube.obj", "cone.ply", "sheet.obj")] + ["missing.obj"]


MESHES = _mesh_files(Path(os.environ.get("WORLDSIM_CACHE", "/tmp")) / "fuzz_meshes")
(Path(MESHES[0]).parent / "broken.urdf").write_text("<robot name='x'><link name='a'><visual></link>")
URDFS = [str(Path(MESHES[0]).parent / "broken.urdf"), "r2d2.urdf", "cube_small.urdf", "missing.urdf"]


@st.composite
def body(draw):
    kind = draw(st.sampled_from(["box", "sphere", "cylinder", "capsule", "plane", "mesh", "urdf"]))
    doc = {"name": draw(names), "type": kind, "position": draw(vec3)}
    if kind == "box":
        doc["size"] = draw(st.lists(positive, min_size=3, max_size=3))
    elif kind in ("sphere", "cylinder", "capsule"):
        doc["radius"] = draw(positive)
        if kind != "sphere":
            doc["length"] = draw(positive)
    elif kind == "mesh":
        doc["file"] = draw(st.sampled_from(MESHES))
    elif kind == "urdf":
        doc["file"] = draw(st.sampled_from(URDFS))
    extras = {
        "mass": positive, "friction": st.floats(0, 1), "restitution": st.floats(0, 1), "static": st.booleans(),
        "color": st.lists(st.floats(0, 1), min_size=3, max_size=3), "linear_velocity": vec3, "euler_deg": vec3,
        "material": st.sampled_from(["metal", "wood", "rubber"]), "texture": st.just({"checker": 4}),
        "ccd": st.booleans(), "spinning_friction": st.floats(0, 0.1), "linear_damping": st.floats(0, 1),
    }
    for key in draw(st.lists(st.sampled_from(sorted(extras)), max_size=3, unique=True)):
        doc[key] = draw(extras[key])
    if doc.get("static"):
        doc.pop("mass", None)
    return doc


@st.composite
def scene_doc(draw):
    bodies = draw(st.lists(body(), min_size=1, max_size=5, unique_by=lambda b: b["name"]))
    doc: dict = {"bodies": bodies, "sim": {"duration": 0.5}}
    body_names = [b.get("name") for b in bodies] + ["ghost"]
    if draw(st.booleans()):
        doc["events"] = draw(st.lists(st.fixed_dictionaries({
            "time": st.floats(0, 0.2), "body": st.sampled_from(body_names),
            "type": st.sampled_from(["impulse", "impulse", "set_velocity", "set_velocity", "remove", "force", "explode",
                                     "set_dynamics", "set_gravity"]),
            "impulse": vec3, "linear": vec3, "friction": st.floats(0, 1), "gravity": vec3,
        }, optional={"force": vec3, "duration": positive, "joint": st.text(max_size=4), "mass": positive}), max_size=3))
        for event in doc["events"]:  # keep only the fields each type takes (most events valid)
            keep = {"impulse": ("impulse",), "set_velocity": ("linear",), "set_dynamics": ("friction", "mass"),
                    "set_gravity": ("gravity",)}.get(event["type"], ())
            for field in ("impulse", "linear", "friction", "gravity", "mass"):
                if field not in keep:
                    event.pop(field, None)
            if event["type"] == "set_gravity":
                event.pop("body")
    if draw(st.booleans()):
        doc["physics"] = draw(st.fixed_dictionaries({}, optional={
            "combine": st.sampled_from(["product", "moving_body", "sum"]), "linear_damping": st.floats(0, 1),
            "friction": numbers, "restitution": st.floats(0, 1), "restitution_threshold": st.floats(0, 1)}))
    if draw(st.booleans()):
        doc["constraints"] = draw(st.lists(st.fixed_dictionaries({
            "type": st.sampled_from(["fixed", "ball", "hinge", "slider"]), "body": st.sampled_from(body_names)},
            optional={"to": st.sampled_from(body_names), "pivot": vec3, "axis": st.one_of(vec3, st.just([0, 0, 0])),
                      "max_force": st.one_of(positive, weird_numbers)}), max_size=2))
    if draw(st.booleans()):
        doc["cameras"] = [{"position": draw(vec3), "target": draw(vec3), "fov_deg": draw(st.floats(20, 90)),
                           "resolution": [16, 16]}]
    if draw(st.booleans()) and draw(st.booleans()):
        doc["sim"].update(draw(st.dictionaries(st.sampled_from(["fps", "timestep", "gravity", "substeps", "solver_iterations"]),
                                               st.one_of(numbers, vec3), max_size=2)))
    if draw(st.booleans()):
        path = draw(st.sampled_from(["bodies[0].mass", "bodies[ball].position", "bodies[9].radius", "light.ambient", "nope"]))
        doc["randomize"] = {path: draw(st.sampled_from([{"uniform": [0.1, 0.5]}, {"normal": [0, 1]}, {"choice": []},
                                                        {"uniform": [[0, 0, 1], [1, 1, 2]]}, {"randint": ["a", 2]}]))}
    # Break it: set random fields to junk, drop keys, add unknown keys, nest deeply.
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
        target = draw(st.sampled_from(["doc", "body", "sim"]))
        if target == "body" and bodies:
            node = draw(st.sampled_from(bodies))
        else:
            node = doc.get("sim") if target == "sim" else doc
        if not isinstance(node, dict):
            continue
        action = draw(st.sampled_from(["junk", "drop", "unknown", "nest"]))
        keys = sorted(node, key=str)
        key = draw(st.sampled_from(keys)) if keys else "bodies"
        if action == "junk":
            node[key] = draw(junk)
        elif action == "drop":
            node.pop(key, None)
        elif action == "unknown":
            node[draw(st.text(min_size=1, max_size=6))] = draw(junk)
        else:
            nested: object = node.get(key)
            for _ in range(draw(st.integers(1, 60))):
                nested = [nested]
            node[key] = nested
    return draw(junk) if draw(st.integers(0, 30)) == 7 else doc  # now and then not even a mapping


def outcome(doc) -> str:
    """Simulate ``doc`` for a few frames; returns how it ended. Any other exception fails the test."""
    try:
        spec = sample(scene_from_dict(doc, file="fuzz.yaml"), seed=0)
        with PhysicsWorld(spec, seed=0) as world:
            world.step_frames(2)
            state = world.state()
        assert np.all(np.isfinite(state.positions))
        return "simulated"
    except SceneError as err:
        assert err.field is not None or "mapping" in err.detail, str(err)
        return "refused"
    except PhysicsError:
        return "blew up"


@pytest.mark.filterwarnings("ignore::worldsim.errors.SceneWarning")  # overlaps and mass ratios are expected here
def test_fuzzed_scene_documents_simulate_or_are_refused_with_a_field():
    counts: Counter = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(scene_doc())
    def run(doc):
        counts[outcome(doc)] += 1

    run()
    print(f"\nfuzzed scene documents: {sum(counts.values())} ({dict(counts)})")
    assert counts["simulated"] > 0 and counts["refused"] > 0


@pytest.mark.filterwarnings("ignore::worldsim.errors.SceneWarning")
@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("static", [True, False])
def test_every_broken_mesh_is_refused_with_the_field(mesh, static):
    doc = {"bodies": [{"name": "m", "type": "mesh", "file": mesh, "static": static, **({} if static else {"mass": 1.0})}]}
    result = outcome(doc)
    good = Path(mesh).name in ("cube.obj", "cone.ply") or (Path(mesh).name in ("sheet.obj", "triangle.obj") and static)
    assert result == ("simulated" if good else "refused"), (mesh, static, result)
