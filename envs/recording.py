"""Record env episodes as a Minari dataset (observations at any resolution, actions, rewards, infos).

>>> from worldsim_envs.recording import record_minari
>>> dataset = record_minari("worldsim/PandaReach-v0", "worldsim/reach-scripted-v0", episodes=10,
...                         policy=reach_expert, env_kwargs={"obs_mode": "proprio+rgb", "image_size": 128})
>>> import minari; minari.load_dataset("worldsim/reach-scripted-v0").total_episodes
10

Episodes go through Minari's own ``DataCollector`` wrapper, so the dataset is exactly what Minari
writes for any Gymnasium env (observations, actions, rewards, terminations, truncations and infos
per episode, with each episode's reset seed). The dataset lands under ``$MINARI_DATASETS_PATH``
(default ``~/.minari/datasets``) and loads back with ``minari.load_dataset``, whose
``recover_environment()`` rebuilds the env from its spec (worldsim's entry points are strings, so
the spec serializes). The ``record`` extra installs ``minari[hdf5]`` and the jax that
``DataCollector`` needs, pinned to releases that allow numpy < 2 (Blender's ``bpy``
forbids numpy 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

Policy = Callable[[Any, np.random.Generator], np.ndarray]


def record_minari(env_id: str, dataset_id: str, episodes: int, policy: Policy | None = None, seed: int = 0,
                  env_kwargs: dict[str, Any] | None = None, description: str | None = None):
    """Run ``episodes`` episodes (seeds ``seed``, ``seed + 1``, …) and save them as a Minari dataset.

    Args:
        env_id: a worldsim id (or any Gymnasium id).
        dataset_id: Minari's ``namespace/name-vN`` id; an existing dataset of that id is an error, raised
            before any episode runs.
        episodes: how many episodes.
        policy: ``policy(obs, rng) -> action``; None draws uniform random actions.
        seed: the first episode's reset seed (and the policy's random generator's).
        env_kwargs: passed to ``gym.make`` (``obs_mode``, ``image_size``, ``cameras``, …).
        description: stored with the dataset.

    Returns:
        The :class:`minari.MinariDataset`.
    """
    import minari
    from minari import DataCollector

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if dataset_id in minari.list_local_datasets():  # Minari checks only when writing, after every episode ran
        raise ValueError(f"a Minari dataset {dataset_id!r} already exists under {minari.storage.get_dataset_path(dataset_id)}; "
                         "choose another id or minari.delete_dataset it")
    env = DataCollector(gym.make(env_id, **(env_kwargs or {})), record_infos=True)
    try:
        rng = np.random.default_rng(seed)
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            done = False
            while not done:
                action = np.asarray(policy(obs, rng) if policy else env.action_space.sample(), np.float32)
                action = np.clip(action, env.action_space.low, env.action_space.high)  # what the env acted on
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
        return env.create_dataset(
            dataset_id=dataset_id, algorithm_name="scripted" if policy else "random", author="worldsim",
            description=description or f"{episodes} episodes of {env_id} recorded by worldsim")
    finally:
        env.close()
