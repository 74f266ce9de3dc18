"""Averaging two checkpoints: exact at the ends, the weighted mean between, other architectures refused."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import torch

from worldsim.average import average_checkpoints
from worldsim.checkpoint import load_model, load_tensors, save_model
from worldsim.errors import ConfigError, DataError
from worldsim.model import build_model

from .test_model import _cond, _trained_looking


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
        inputs = {k: {"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "steps": n}
                  for k, p, n in (("a", a, 1), ("b", b, 2))}
        assert meta["average"] == {**inputs, "weight": weight}  # what they were, not only where
        load_model(out)  # and it rebuilds from its own JSON


def test_other_architectures_and_weights_are_refused(pair, tmp_path):
    a, _ = pair
    save_model(tmp_path / "small.safetensors", build_model("small"), {})
    with pytest.raises(DataError, match="different architectures"):
        average_checkpoints(a, tmp_path / "small.safetensors", 0.5, tmp_path / "x.safetensors")
    with pytest.raises(ConfigError, match="from 0 to 1"):
        average_checkpoints(a, a, 1.5, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_a_fine_tune_that_added_frame_summaries_averages_with_its_start_widened(pair, tmp_path):
    """A has no summaries, B (its fine-tune with ``--frame-summary``) has: A counts as zeros there, so
    the average holds B's summaries times the weight, every other tensor the plain mean, and at
    weight 0 it renders exactly what A renders. The other way round (A wider) is refused."""
    a, _ = pair
    source, _ = load_model(a)
    wide = _trained_looking(build_model("tiny", frame_summary=True))
    save_model(tmp_path / "w.safetensors", wide, {"steps": 3})
    ta, tw = load_tensors(a)[0], load_tensors(tmp_path / "w.safetensors")[0]
    average_checkpoints(a, tmp_path / "w.safetensors", 0.25, tmp_path / "avg.safetensors")
    got = load_tensors(tmp_path / "avg.safetensors")[0]
    assert got.keys() == tw.keys() and any(k.startswith("summaries.") for k in got)
    for key in got:
        expected = 0.25 * tw[key] + (0.75 * ta[key] if key in ta else 0)
        assert torch.allclose(got[key], expected, atol=1e-7, rtol=0), key
    average_checkpoints(a, tmp_path / "w.safetensors", 0.0, tmp_path / "zero.safetensors")
    zero, _ = load_model(tmp_path / "zero.safetensors")
    x, t, cond = torch.randn(1, 2, 3, 32, 32), torch.rand(1), _cond(1, 2, 32)
    with torch.no_grad():
        assert torch.allclose(zero(x, t, cond), source(x, t, cond), atol=1e-6)
    with pytest.raises(DataError, match="frame summaries"):
        average_checkpoints(tmp_path / "w.safetensors", a, 0.5, tmp_path / "x.safetensors")


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
