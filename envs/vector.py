"""``WorldsimVectorEnv``: N worlds stepped together, their frames drawn in one batched model call.

``gymnasium.make_vec("worldsim/PandaPush-v0", num_envs=8)`` builds this through the ids'
``vector_entry_point``. Every sub-env steps its own physics (PyBullet is single-threaded per
client); in ``rgb`` mode the learned renderer then draws all N frames in **one** forward pass per
sampler step, which is where a GPU (or CPU batching) pays off. Gymnasium's own ``SyncVectorEnv``
and ``AsyncVectorEnv`` work too (``vectorization_mode="sync"/"async"``), one model call per env.

Autoreset follows Gymnasium's default ``NEXT_STEP`` mode: the step after an episode ends resets
that sub-env and returns its first observation with reward 0. The time limit
(``max_episode_steps``) is applied here, since ``make_vec`` adds no ``TimeLimit`` wrapper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array
from worldsim_envs import observations as obs_lib
from worldsim_envs.core import WorldsimEnv


class WorldsimVectorEnv(VectorEnv):
    """A batched vector env over ``num_envs`` instances of one task.

    Args:
        env_cls: the task class.
        num_envs: how many worlds.
        max_episode_steps: truncate episodes after this many steps (None: never).
        **kwargs: passed to every sub-env (``obs_mode``, ``image_size``, ``device``, …).
    """

    def __init__(self, env_cls: type[WorldsimEnv], num_envs: int, max_episode_steps: int | None = None, **kwargs):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.envs = [env_cls(**kwargs) for _ in range(num_envs)]
        first = self.envs[0]
        self.num_envs, self.max_episode_steps = num_envs, max_episode_steps
        self.single_observation_space, self.single_action_space = first.observation_space, first.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {**first.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self.render_mode = first.render_mode
        self._elapsed = np.zeros(num_envs, np.int64)
        self._needs_reset = np.zeros(num_envs, bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else (seed or [None] * self.num_envs)
        if len(seeds) != self.num_envs:
            raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} envs")
        for env, s in zip(self.envs, seeds, strict=False):
            env._begin_episode(s)
        self._elapsed[:], self._needs_reset[:] = 0, False
        return self._observe_all(), {}

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {actions.shape}, expected {self.action_space.shape}")
        rewards = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        infos: dict[str, Any] = {}
        broken = []
        for i, env in enumerate(self.envs):
            if self._needs_reset[i]:
                env._begin_episode(None)
                self._elapsed[i] = 0
                continue
            rewards[i], terminated[i], truncated[i], info = env._step_physics(actions[i])
            self._elapsed[i] += 1
            if self.max_episode_steps is not None and self._elapsed[i] >= self.max_episode_steps:
                truncated[i] = True
            if "physics_error" in info:
                broken.append(i)
            infos = self._add_info(infos, info, i)
        obs = self._observe_all(skip=broken)
        self._needs_reset = terminated | truncated
        return obs, rewards, terminated, truncated, infos

    def _observe_all(self, skip: list[int] = ()):
        """Observations of every sub-env; in ``rgb`` mode one batched renderer call for all of them."""
        learned: dict[int, np.ndarray] = {}
        live = [i for i in range(self.num_envs) if i not in skip]
        if self.envs[0].obs_mode == "rgb" and live:
            requests = [self.envs[i]._learned_request() for i in live]
            frames = obs_lib.render_learned(self.envs[0].renderer, *map(list, zip(*requests, strict=False)))
            learned = dict(zip(live, frames, strict=False))
        observations = [env._last_obs if i in skip else env._observe(learned.get(i)) for i, env in enumerate(self.envs)]
        out = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, observations, out)

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Each sub-env's ``render()``."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs) -> None:
        for env in self.envs:
            env.close()
