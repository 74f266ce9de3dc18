"""SIGKILL a running `worldsim dataset`, run it again, and get exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch

from worldsim.dataset import SHARD_KEYS, read_shard


def _cmd(out):
    return [sys.executable, "-m", "worldsim.cli", "dataset", "--out", str(out), "--frames", "384", "--resolution", "16",
            "--workers", "1", "--seed", "3"]


def test_dataset_killed_mid_run_resumes_without_loss_or_duplicates(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(_cmd(tmp_path / "straight"), check=True, capture_output=True, env=env)
    proc = subprocess.Popen(_cmd(tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while not (tmp_path / "killed" / "shard_00000.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-way through the second shard
    proc.wait()
    assert not (tmp_path / "killed" / "shard_00001.npz").exists()
    subprocess.run(_cmd(tmp_path / "killed"), check=True, capture_output=True, env=env)
    straight = sorted(p.name for p in (tmp_path / "straight").glob("shard_*.npz"))
    assert straight == sorted(p.name for p in (tmp_path / "killed").glob("shard_*.npz")) == ["shard_00000.npz",
                                                                                             "shard_00001.npz"]
    for name in straight:
        a, b = read_shard(tmp_path / "straight" / name), read_shard(tmp_path / "killed" / name)
        for key in SHARD_KEYS:
            assert np.array_equal(a[key], b[key]), (name, key)


def _train_cmd(data, out, *extra):
    return [sys.executable, "-m", "worldsim.cli", "train", "--data", str(data), "--out", str(out), "--preset", "tiny",
            "--steps", "40", "--batch", "2", "--device", "cpu", "--checkpoint-every", "2", "--mean-start", "0.5", *extra]


def test_training_killed_at_random_points_resumes_to_the_same_state(tiny_dataset, tmp_path):
    """SIGKILL `worldsim train` at random moments, resume each time, and end where a clean run ends."""
    from worldsim.checkpoint import load_tensors

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_cmd(tiny_dataset, tmp_path / "straight"), check=True, capture_output=True, env=env)
    state = tmp_path / "killed" / "train_state.safetensors"
    rng = np.random.default_rng(0)
    kills = 0
    for _attempt in range(6):
        extra = ("--resume",) if state.exists() else ()
        proc = subprocess.Popen(_train_cmd(tiny_dataset, tmp_path / "killed", *extra), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        log = tmp_path / "killed" / "metrics.jsonl"
        lines = log.read_text().count("\n") if log.exists() else 0
        while proc.poll() is None and (log.read_text().count("\n") if log.exists() else 0) <= lines:
            time.sleep(0.01)  # wait until this run has trained at least one step
        time.sleep(float(rng.uniform(0.0, 0.4)))  # then a random point: mid-step, mid-checkpoint, ...
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if state.exists() and load_tensors(state)[1]["step"] == 40:
            break
    if not (state.exists() and load_tensors(state)[1]["step"] == 40):
        subprocess.run(_train_cmd(tiny_dataset, tmp_path / "killed", "--resume"), check=True, capture_output=True, env=env)
    print(f"SIGKILLed training {kills} times at random points")
    assert kills >= 1
    a, _ = load_tensors(tmp_path / "straight" / "train_state.safetensors")
    b, meta = load_tensors(state)
    assert meta["step"] == 40 and a.keys() == b.keys()
    for key in a:  # raw weights, EMA weights and optimizer moments
        assert torch.equal(a[key], b[key]), key
