"""Averaging two checkpoints: exact at the ends, the weighted mean between, other architectures refused."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from worldsim.average import average_checkpoints
from worldsim.checkpoint import load_model, load_tensors, save_model
from worldsim.errors import ConfigError, DataError
from worldsim.model import build_model

from .test_model import _trained_looking


@pytest.fixture
def pair(tmp_path):
    a, b = _trained_looking(build_model("tiny")), _trained_looking(build_model("tiny"))
    torch.manual_seed(0)
    with torch.no_grad():
        for p in b.parameters():  # a fine-tune of a
            p.add_(0.1 * torch.randn_like(p))
    save_model(tmp_path / "a.safetensors", a, {"steps": 1, "sampling_steps": 1})
    save_model(tmp_path / "b.safetensors", b, {"steps": 2})
    return tmp_path / "a.safetensors", tmp_path / "b.safetensors"


def test_the_ends_are_the_checkpoints_and_the_middle_their_mean(pair, tmp_path):
    a, b = pair
    ta, tb = load_tensors(a)[0], load_tensors(b)[0]
    assert any(not torch.equal(ta[k], tb[k]) for k in ta)
    for weight, expected in [(0.0, ta), (1.0, tb), (0.25, {k: 0.75 * ta[k] + 0.25 * tb[k] for k in ta})]:
        out = tmp_path / f"avg{weight}.safetensors"
        meta = average_checkpoints(a, b, weight, out)
        got = load_tensors(out)[0]
        for key in ta:
            assert torch.allclose(got[key], expected[key], atol=1e-7, rtol=0), (weight, key)
        assert meta["steps"] == 2 and meta["sampling_steps"] == 1  # B's JSON, and what only A's had
        assert meta["average"] == {"a": str(a), "b": str(b), "weight": weight}
        load_model(out)  # and it rebuilds from its own JSON


def test_other_architectures_and_weights_are_refused(pair, tmp_path):
    a, _ = pair
    save_model(tmp_path / "small.safetensors", build_model("small"), {})
    with pytest.raises(DataError, match="different architectures"):
        average_checkpoints(a, tmp_path / "small.safetensors", 0.5, tmp_path / "x.safetensors")
    with pytest.raises(ConfigError, match="from 0 to 1"):
        average_checkpoints(a, a, 1.5, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_the_command_line_writes_the_average(pair, tmp_path):
    a, b = pair
    out = tmp_path / "cli.safetensors"
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "average", str(a), str(b), "--weight", "0.5",
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ta, tb, got = load_tensors(a)[0], load_tensors(b)[0], load_tensors(out)[0]
    assert all(torch.allclose(got[k], (ta[k] + tb[k]) / 2, atol=1e-7, rtol=0) for k in got)
    bad = subprocess.run([sys.executable, "-m", "worldsim.cli", "average", str(a), str(b), "--weight", "2",
                          "--out", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "--weight" in bad.stderr
