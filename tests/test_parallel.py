"""Fan-out over local processes and over a local Ray instance gives exactly the serial results, and a
terminated parent leaves no workers behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from worldsim_envs.rollouts import collect_episodes

from worldsim.dataset import SHARD_KEYS, generate, read_shard


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield "auto"  # an initialised Ray is reused by worldsim.parallel
    ray.shutdown()


def test_dataset_over_ray_equals_local_generation(tmp_path, local_ray):
    kwargs = {"frames": 16, "resolution": 16, "seed": 4, "frames_per_clip": 4, "clips_per_shard": 2, "progress": False}
    generate(tmp_path / "local", workers=1, **kwargs)
    generate(tmp_path / "ray", ray_address=local_ray, **kwargs)
    names = sorted(p.name for p in (tmp_path / "local").glob("shard_*.npz"))
    assert names == sorted(p.name for p in (tmp_path / "ray").glob("shard_*.npz")) and len(names) == 2
    for name in names:
        a, b = read_shard(tmp_path / "local" / name), read_shard(tmp_path / "ray" / name)
        assert all(np.array_equal(a[k], b[k]) for k in SHARD_KEYS)


def test_rollouts_over_ray_and_processes_equal_serial(local_ray):
    seeds = [0, 1, 2, 3]
    serial = collect_episodes("worldsim/BilliardsShotDense-v0", seeds)
    assert collect_episodes("worldsim/BilliardsShotDense-v0", seeds, ray_address=local_ray) == serial
    assert collect_episodes("worldsim/BilliardsShotDense-v0", seeds, workers=2) == serial
    assert len({r["return"] for r in serial}) > 1  # different seeds, different shots


_SLEEPER = '''
import os, sys, time
from pathlib import Path
from worldsim.parallel import run_jobs

def sleep(folder):
    Path(folder, str(os.getpid())).write_text("")
    time.sleep(120)

if __name__ == "__main__":
    for _ in run_jobs(sleep, [(sys.argv[1],), (sys.argv[1],)], workers=2):
        pass
'''


def test_a_terminated_parent_takes_its_workers_with_it(tmp_path):
    """SIGTERM to a process fanning out jobs ends its workers too, not minutes later."""
    script, folder = tmp_path / "sleeper.py", tmp_path / "pids"
    script.write_text(_SLEEPER)
    folder.mkdir()
    parent = subprocess.Popen([sys.executable, str(script), str(folder)])
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = [int(p.name) for p in folder.iterdir()]
    assert len(workers) == 2
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=30)

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has ended

    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers)
