"""Checkpoint files: a kill between writing the weights and the JSON never pairs weights with another write's JSON."""

from __future__ import annotations

import json

import pytest
import torch

import worldsim.checkpoint as checkpoint
from worldsim.checkpoint import load_meta, load_tensors, save_tensors
from worldsim.errors import DataError


def _killed_before_the_sidecar(monkeypatch, path, tensors, meta):
    """``save_tensors`` interrupted after the weights' rename, before the JSON's."""
    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "write_atomic", killed)
        with pytest.raises(KeyboardInterrupt):
            save_tensors(path, tensors, meta)


def test_weights_renamed_before_a_kill_load_with_their_own_json(tmp_path, monkeypatch):
    path = tmp_path / "train_state.safetensors"
    save_tensors(path, {"w": torch.zeros(2)}, {"step": 100})
    _killed_before_the_sidecar(monkeypatch, path, {"w": torch.ones(2)}, {"step": 200})
    assert json.loads(path.with_suffix(".json").read_text())["step"] == 100  # the stale sidecar is still there
    tensors, meta = load_tensors(path)
    assert torch.equal(tensors["w"], torch.ones(2)) and meta == {"step": 200}
    assert load_meta(path) == {"step": 200}


def test_the_first_save_killed_before_its_sidecar_still_loads(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.safetensors"
    _killed_before_the_sidecar(monkeypatch, path, {"w": torch.ones(3)}, {"steps": 7})
    assert not path.with_suffix(".json").exists()
    assert load_tensors(path)[1] == {"steps": 7}


def test_a_sidecar_edited_by_hand_is_what_loads(tmp_path):
    """The JSON stays the config a person reads and edits (e.g. a shipped checkpoint's sampling steps)."""
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"w": torch.zeros(1)}, {"sampling_steps": 4})
    sidecar = path.with_suffix(".json")
    edited = {**json.loads(sidecar.read_text()), "sampling_steps": 1}
    sidecar.write_text(json.dumps(edited))
    assert load_meta(path) == {"sampling_steps": 1}
    sidecar.write_text(json.dumps({"sampling_steps": 2}))  # written from scratch: no write id
    assert load_meta(path) == {"sampling_steps": 2}


def test_a_file_from_before_embedded_json_needs_its_sidecar(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    with pytest.raises(DataError, match="old.json: file not found"):
        load_tensors(path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(DataError, match="old.json: not valid JSON"):
        load_tensors(path)
    path.with_suffix(".json").write_text('{"steps": 3}')
    assert load_tensors(path)[1] == {"steps": 3}
