"""Collect many env episodes in parallel: local processes, or a Ray cluster given its address.

>>> from worldsim_envs.rollouts import collect_episodes
>>> results = collect_episodes("worldsim/BilliardsShot-v0", seeds=[0, 1])  # random actions
>>> [r["seed"] for r in results], sorted(results[0])
([0, 1], ['length', 'return', 'seed', 'success'])

Each episode is a pure function of (env id, kwargs, seed, policy), so the results do not depend on
where it ran. A policy is a module-level function ``policy(obs, rng) -> action`` (or None for
uniform random actions) so it can be shipped to workers by reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from worldsim.parallel import run_jobs


def run_episode(env_id: str, seed: int, env_kwargs: dict[str, Any], policy: Callable | None = None) -> dict[str, Any]:
    """One episode from ``reset(seed=seed)`` to its end; returns its return, length and success."""
    import worldsim_envs  # noqa: F401  (a fresh worker process must register the ids)

    env = gym.make(env_id, **env_kwargs)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    total, length, info = 0.0, 0, {}
    done = False
    while not done:
        action = policy(obs, rng) if policy else rng.uniform(env.action_space.low, env.action_space.high)
        obs, reward, terminated, truncated, info = env.step(action)
        total, length, done = total + float(reward), length + 1, terminated or truncated
    env.close()
    return {"seed": seed, "return": total, "length": length, "success": bool(info.get("is_success", False))}


def collect_episodes(env_id: str, seeds: list[int], env_kwargs: dict[str, Any] | None = None, policy: Callable | None = None,
                     workers: int = 1, ray_address: str | None = None) -> list[dict[str, Any]]:
    """Run one episode per seed over ``workers`` processes or Ray; results sorted by seed."""
    jobs = [(env_id, s, env_kwargs or {}, policy) for s in seeds]
    return sorted(run_jobs(run_episode, jobs, workers, ray_address), key=lambda r: r["seed"])
