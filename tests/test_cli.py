"""The CLI as a user runs it: every bundled scene simulates; bad input fails in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from .conftest import SCENES


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "worldsim.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.parametrize("scene", SCENES, ids=lambda p: p.stem)
def test_simulate_writes_documented_files(scene, tmp_path):
    result = _run("simulate", scene, "--out", tmp_path, "--seconds", "0.25", "--resolution", "32x24")
    assert result.returncode == 0, result.stderr
    state = np.load(tmp_path / "state.npz")
    maps = np.load(tmp_path / "maps.npz")
    t, n = 7, len(state["body_names"])
    assert state["time"].shape == (t,)
    for key, shape in {"positions": (t, n, 3), "quaternions": (t, n, 4), "velocities": (t, n, 3),
                       "angular_velocities": (t, n, 3), "masses": (n,)}.items():
        assert state[key].shape == shape, key
    assert state["collision_bodies"].shape[1] == 2
    assert maps["rgb"].shape == (t, 24, 32, 3) and maps["rgb"].dtype == np.uint8
    assert maps["albedo"].shape == (t, 24, 32, 3)
    assert maps["segmentation"].shape == (t, 24, 32) and maps["segmentation"].min() >= -1
    assert maps["depth"].dtype == np.float32 and maps["normals"].shape == (t, 24, 32, 3)
    assert maps["world_position"].shape == (t, 24, 32, 3) and maps["material"].shape == (t, 24, 32)
    assert maps["intrinsics"].shape == (3, 3) and maps["extrinsics"].shape == (t, 4, 4)
    assert (tmp_path / "reference.mp4").stat().st_size > 0


def test_same_seed_same_state_files(tmp_path):
    scene = [s for s in SCENES if s.stem == "billiards_break"][0]
    for name in ("a", "b"):
        assert _run("simulate", scene, "--out", tmp_path / name, "--seed", 4, "--seconds", 0.5,
                    "--resolution", "16x16").returncode == 0
    a, b = np.load(tmp_path / "a" / "state.npz"), np.load(tmp_path / "b" / "state.npz")
    for key in a.files:
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["bodies"][1].update(colour=[1, 0, 0]), "bodies[1].colour"),
    (lambda d: d["bodies"][1].update(radius="big"), "bodies[1].radius"),
    (lambda d: d["bodies"][1].update(mass=-2.0), "bodies[1].mass"),
    (lambda d: d["bodies"].append({"name": "m", "type": "mesh", "file": "missing.obj"}), "bodies[2].file"),
])
def test_malformed_scene_exits_nonzero_with_one_line(mutate, field, tmp_path):
    doc = {"bodies": [{"name": "floor", "type": "plane"}, {"name": "ball", "type": "sphere", "radius": 0.1}]}
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = _run("simulate", path, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert field in result.stderr and str(path) in result.stderr


def test_bad_arguments(tmp_path):
    scene = SCENES[0]
    assert _run("simulate", scene, "--out", tmp_path, "--resolution", "big").returncode == 2
    result = _run("simulate", scene, "--out", tmp_path, "--camera", "nope")
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr
    result = _run("train", "--data", tmp_path, "--out", tmp_path / "run", "--mean-start", "1.5")
    assert result.returncode == 2 and "--mean-start" in result.stderr and "from 0 to 1" in result.stderr
    result = _run("train", "--data", tmp_path, "--out", tmp_path / "run", "--context-prob", "-0.1")
    assert result.returncode == 2 and "--context-prob" in result.stderr and "from 0 to 1" in result.stderr
    result = _run("dataset", "--out", tmp_path / "data", "--frames", "64", "--shards", "4")
    assert result.returncode == 2 and "--shards" in result.stderr and "START:STOP" in result.stderr
    result = _run("dataset", "--out", tmp_path / "data", "--frames", "64", "--shards", "4:")
    assert result.returncode == 2 and "shards 4:" in result.stderr and "Traceback" not in result.stderr
    result = _run("train", "--data", tmp_path, "--out", tmp_path / "run", "--clipped-loss", "--loss-weighting", "velocity")
    assert result.returncode == 2 and "clipped_loss" in result.stderr and "Traceback" not in result.stderr


def test_context_prob_defaults_by_model_kind():
    from worldsim.cli import build_parser
    from worldsim.cli_train import context_prob

    def prob(*extra: str) -> float:
        return context_prob(build_parser().parse_args(["train", "--data", "d", "--out", "o", *extra]))

    assert prob() == 0.5 and prob("--pure-video") == 1.0 and prob("--context-prob", "0") == 0.0


def test_train_data_cache_runs_from_the_command_line_and_refuses_a_foreign_directory(tiny_dataset, tmp_path):
    common = ("train", "--data", tiny_dataset, "--preset", "tiny", "--steps", "1", "--batch", "2")
    result = _run(*common, "--out", tmp_path / "run", "--data-cache", tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / "cache.json").exists() and (tmp_path / "run" / "checkpoint.safetensors").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = _run(*common, "--out", tmp_path / "run2", "--data-cache", foreign)
    assert result.returncode != 0 and "not a worldsim data cache" in result.stderr
    assert "Traceback" not in result.stderr and (foreign / "notes.txt").read_text() == "keep me"


def test_train_downscale_runs_from_the_command_line_and_refuses_odd_factors(tiny_dataset, tmp_path):
    common = ("train", "--data", tiny_dataset, "--preset", "tiny", "--steps", "2", "--batch", "2", "--downscale", "1")
    result = _run(*common, "--out", tmp_path / "run", "--downscale-factors", "2")
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert meta["train"]["downscale"] == 1.0 and meta["train"]["downscale_factors"] == [2]
    result = _run(*common, "--out", tmp_path / "odd", "--downscale-factors", "2,3")
    assert result.returncode != 0 and "even integer" in result.stderr and "Traceback" not in result.stderr
