"""The best a blind agent can do on a one-shot task: the single best constant action.

A pixel agent on a one-shot task (``worldsim/LaunchToBin-v0``, ``worldsim/BilliardsShot-v0``) only
shows that it *sees* if it beats every policy that ignores the observation. Such a policy plays one
fixed action, so this script tries a grid of them on the evaluation seeds of
``train_sac_her.py`` (10⁶, 10⁶+1, …) and reports the best success rate:

    python examples/constant_baseline.py --env worldsim/LaunchToBin-v0 --episodes 50 --grid 9

The grid's best is itself fitted to the evaluation seeds, so it overstates what a blind agent
would reach on fresh ones: a generous bar to clear. It writes ``OUT/constant_baseline.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import worldsim_envs  # noqa: F401  (registers the ids)
from train_sac_her import EVAL_SEED, success_rate  # a sibling file: scripts run with examples/ on sys.path
from worldsim_envs.shots import ShotTask

from worldsim.io import write_atomic


class FixedShot:
    """A policy that ignores its observation: SB3's ``predict`` interface around one action."""

    def __init__(self, action: np.ndarray):
        self.action = np.asarray(action, np.float32)

    def predict(self, obs, deterministic: bool = True) -> tuple[np.ndarray, None]:
        return self.action, None


def constant_success(env: gym.Env, action: np.ndarray, episodes: int, seed: int = EVAL_SEED) -> float:
    """Success rate of always playing ``action``, on the same held-out seeds as the trained agents."""
    return success_rate(FixedShot(action), env, episodes, seed)


def action_grid(space: gym.spaces.Box, points: int) -> list[np.ndarray]:
    """``points`` evenly spaced values per action dimension, every combination."""
    axes = [np.linspace(lo, hi, points, dtype=np.float32) for lo, hi in zip(space.low, space.high, strict=True)]
    return [np.array(a, np.float32) for a in itertools.product(*axes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="worldsim/LaunchToBin-v0")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--grid", type=int, default=9, help="values per action dimension")
    parser.add_argument("--out", type=Path, default=Path("runs/constant_baseline"))
    args = parser.parse_args()
    env = gym.make(args.env, obs_mode="state")
    if not isinstance(env.unwrapped, ShotTask):
        parser.error(f"{args.env} is not a one-shot task")
    grid = action_grid(env.action_space, args.grid)
    start, results = time.perf_counter(), []
    for i, action in enumerate(grid, 1):
        results.append({"action": action.round(3).tolist(), "success_rate": constant_success(env, action, args.episodes)})
        elapsed = time.perf_counter() - start
        print(f"\r{i}/{len(grid)} actions  {i / elapsed:.1f} actions/s  ETA {(len(grid) - i) * elapsed / i:.0f} s",
              end="", flush=True)
    best = max(results, key=lambda r: r["success_rate"])
    print(f"\nbest constant action {best['action']}: success {best['success_rate']:.2f} on {args.episodes} episodes")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"env": args.env, "episodes": args.episodes, "best": best, "grid": results}
    write_atomic(args.out / "constant_baseline.json", json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
