"""Soak test: many env steps with flat memory and no leaked PyBullet clients.

Run: ``python benchmarks/soak.py [--state-steps 100000] [--rgb-steps 10000] [--shots 2000]``.
Three runs, each printing steps/s and resident memory (RSS) after a warm-up and at the end:

* ``state``: PandaPush, state observations, random actions, resets at the time limit;
* ``rgb``: the same with frames from the learned renderer;
* ``shots``: BilliardsShot episodes, whose randomized scene is rebuilt (a new physics client) at
  every reset, the path where a client leak would show.

After each run the env is closed and the script checks that no PyBullet client is left connected.
Growth is measured from the end of the warm-up (10 % of the steps), when the model, caches and
allocator pools exist. Writes ``benchmarks/results/soak.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pybullet as pb
import worldsim_envs  # noqa: F401


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def connected_clients(upto: int = 4096) -> int:
    """How many PyBullet clients this process still has connected."""
    return sum(pb.getConnectionInfo(physicsClientId=i)["isConnected"] for i in range(upto))


def soak(env_id: str, steps: int, **kwargs) -> dict:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    warm = max(1, steps // 10)
    start = time.perf_counter()
    rss_warm, t_warm = None, None
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if terminated or truncated:
            env.reset()
        if i + 1 == warm:
            rss_warm, t_warm = rss_mb(), time.perf_counter()
        if (i + 1) % max(1, steps // 10) == 0:
            rate = (i + 1) / (time.perf_counter() - start)
            print(f"  {env_id} {kwargs}: {i + 1}/{steps} steps, {rate:.0f} steps/s, RSS {rss_mb():.0f} MiB, "
                  f"ETA {(steps - i - 1) / rate:.0f}s", flush=True)
    rss_end = rss_mb()
    rate = (steps - warm) / (time.perf_counter() - t_warm) if steps > warm else float("nan")
    env.close()
    return {"env": env_id, "kwargs": kwargs, "steps": steps, "steps_per_s": rate, "rss_after_warmup_mb": rss_warm,
            "rss_end_mb": rss_end, "rss_growth_pct": 100 * (rss_end - rss_warm) / rss_warm,
            "clients_left": connected_clients()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-steps", type=int, default=100_000)
    parser.add_argument("--rgb-steps", type=int, default=10_000)
    parser.add_argument("--shots", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    runs = [soak("worldsim/PandaPush-v0", args.state_steps, obs_mode="state"),
            soak("worldsim/BilliardsShot-v0", args.shots, obs_mode="state"),
            soak("worldsim/PandaPush-v0", args.rgb_steps, obs_mode="rgb")]
    print(f"\n{'run':<40s}{'steps':>8s}{'steps/s':>10s}{'RSS warm':>10s}{'RSS end':>10s}{'growth':>9s}{'clients':>9s}")
    for r in runs:
        name = f"{r['env'].split('/')[1]} {r['kwargs'].get('obs_mode')}"
        print(f"{name:<40s}{r['steps']:>8d}{r['steps_per_s']:>10.1f}{r['rss_after_warmup_mb']:>9.0f}M{r['rss_end_mb']:>9.0f}M"
              f"{r['rss_growth_pct']:>8.2f}%{r['clients_left']:>9d}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
