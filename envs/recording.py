"""Record env episodes as a Minari dataset (observations at any resolution, actions, rewards, infos).

>>> from worldsim_envs.recording import record_minari
>>> dataset = record_minari("worldsim/PandaReach-v0", "worldsim/reach-scripted-v0", episodes=10,
...                         policy=reach_expert, env_kwargs={"obs_mode": "proprio+rgb", "image_size": 128})
>>> import minari; minari.load_dataset("worldsim/reach-scripted-v0").total_episodes
10

Each episode is gathered step by step into Minari's ``EpisodeBuffer`` and written with
``minari.create_dataset_from_buffers``. (Minari's ``DataCollector`` does the same but needs jax,
whose wheels now require numpy ≥ 2, which Blender's ``bpy`` forbids.) The dataset lands under
``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``) and loads back with
``minari.load_dataset``, whose ``recover_environment()`` rebuilds the env from its spec (worldsim's
entry points are strings, so the spec serializes). ``minari[hdf5]`` is the ``record`` extra.
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
        dataset_id: Minari's ``namespace/name-vN`` id; an existing dataset of that id is an error.
        episodes: how many episodes.
        policy: ``policy(obs, rng) -> action``; None draws uniform random actions.
        seed: the first episode's reset seed (and the policy's random generator's).
        env_kwargs: passed to ``gym.make`` (``obs_mode``, ``image_size``, ``cameras``, …).
        description: stored with the dataset.

    Returns:
        The :class:`minari.MinariDataset`.
    """
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = gym.make(env_id, **(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    buffers = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        steps = {"observations": [obs], "infos": [info], "actions": [], "rewards": [], "terminations": [], "truncations": []}
        done = False
        while not done:
            action = np.asarray(policy(obs, rng) if policy else env.action_space.sample(), np.float32)
            action = np.clip(action, env.action_space.low, env.action_space.high)  # what the env acted on
            obs, reward, terminated, truncated, info = env.step(action)
            for key, value in zip(("observations", "infos", "actions", "rewards", "terminations", "truncations"),
                                  (obs, info, action, reward, terminated, truncated), strict=True):
                steps[key].append(value)
            done = terminated or truncated
        buffers.append(EpisodeBuffer(id=episode, seed=seed + episode, observations=_stack(steps["observations"]),
                                     actions=np.stack(steps["actions"]), rewards=steps["rewards"],
                                     terminations=steps["terminations"], truncations=steps["truncations"],
                                     infos=_stack(steps["infos"])))
    dataset = minari.create_dataset_from_buffers(
        dataset_id=dataset_id, buffer=buffers, env=env.spec, algorithm_name="scripted" if policy else "random", author="worldsim",
        description=description or f"{episodes} episodes of {env_id} recorded by worldsim")
    env.close()
    return dataset


def _stack(items: list[Any]) -> Any:
    """A list of (nested dicts of) arrays as (nested dicts of) stacked arrays, Minari's episode layout."""
    if isinstance(items[0], dict):
        return {key: _stack([item[key] for item in items]) for key in items[0]}
    return np.stack([np.asarray(item) for item in items])
