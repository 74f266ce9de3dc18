"""SIGKILL a running `worldsim dataset`, run it again, and get exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

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
