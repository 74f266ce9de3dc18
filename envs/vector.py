"""``WorldsimVectorEnv``: N worlds stepped together, their frames drawn in one batched model call.

``gymnasium.make_vec("worldsim/PandaPush-v0", num_envs=8)`` builds this through the ids'
``vector_entry_point`` (one subclass per task below, named by string so specs serialize). Every
sub-env steps its own physics (PyBullet is single-threaded per client); with ``rgb`` in the
observation the learned renderer then draws all N × cameras frames in **one** forward pass per
sampler step, which is where a GPU (or CPU batching) pays off. Gymnasium's own ``SyncVectorEnv``
and ``AsyncVectorEnv`` work too (``vectorization_mode="sync"/"async"``), one model call per env.

``workers=W`` (a keyword of ``make_vec``) splits the envs over W processes, each stepping and
drawing its share with one batched model call (:class:`~worldsim_envs.workers.ProcessVectorEnv`):
PyBullet holds the GIL while it rasterizes, so only processes overlap the map passes. Workers are
spawned, so a script that makes one needs the usual ``if __name__ == "__main__":`` guard.

Autoreset (``autoreset_mode=``, a keyword of ``make_vec`` itself: Gymnasium refuses
``vector_kwargs`` for a vector entry point):

* ``AutoresetMode.NEXT_STEP`` (default, as Gymnasium's vector envs): the step after an episode
  ends resets that sub-env and returns its first observation with reward 0;
* ``AutoresetMode.SAME_STEP``: the step that ends an episode resets the sub-env at once and
  returns the new episode's first observation; the last observation and info of the ended
  episode are in ``info["final_obs"]`` and ``info["final_info"]`` (masks ``"_final_obs"``,
  ``"_final_info"``). One-shot tasks then spend no step on resets.

The time limit (``max_episode_steps``) is applied here, since ``make_vec`` adds no ``TimeLimit``.
Every sub-env's action is checked before any sub-env steps, so a bad action changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array
from worldsim_envs import observations as obs_lib
from worldsim_envs.core import WorldsimEnv
from worldsim_envs.panda import PandaPickAndPlace, PandaPush, PandaReach, PandaStack
from worldsim_envs.shots import BilliardsShot, LaunchToBin


def env_seeds(seed: int | list[int | None] | None, num_envs: int) -> list[int | None]:
    """Per-env seeds of a vector ``reset(seed=...)``: env ``i`` gets ``seed + i``; a list is taken as is."""
    seeds = [seed + i for i in range(num_envs)] if isinstance(seed, int) else (seed or [None] * num_envs)
    if len(seeds) != num_envs:
        raise ValueError(f"got {len(seeds)} seeds for {num_envs} envs")
    return list(seeds)


class WorldsimVectorEnv(VectorEnv):
    """A batched vector env over ``num_envs`` instances of one task.

    Args:
        num_envs: how many worlds.
        max_episode_steps: truncate episodes after this many steps (None: never).
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` or ``SAME_STEP`` (or their string values).
        task: the task class (subclasses below fix it; pass it to vectorize your own task).
        workers: split the envs over this many processes (default 1: all in this one); more than
            one gives a :class:`~worldsim_envs.workers.ProcessVectorEnv` with the same interface.
        **kwargs: passed to every sub-env (``obs_mode``, ``image_size``, ``device``, …).
    """

    task: type[WorldsimEnv] | None = None

    def __new__(cls, num_envs: int = 1, *args, workers: int = 1, task: type[WorldsimEnv] | None = None, **kwargs):
        if workers == 1:
            return super().__new__(cls)
        from worldsim_envs.workers import ProcessVectorEnv

        task = task or cls.task
        if task is None:
            raise ValueError("WorldsimVectorEnv needs task= (a WorldsimEnv subclass)")
        if args:
            raise TypeError("with workers > 1, pass max_episode_steps and the rest by keyword")
        return ProcessVectorEnv(task, num_envs, workers, **kwargs)

    def __init__(self, num_envs: int, max_episode_steps: int | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, task: type[WorldsimEnv] | None = None,
                 workers: int = 1, **kwargs):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        task = task or self.task
        if task is None:
            raise ValueError("WorldsimVectorEnv needs task= (a WorldsimEnv subclass)")
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode {mode.value!r} is not supported; use next-step or same-step")
        self.envs = [task(**kwargs) for _ in range(int(num_envs))]
        first = self.envs[0]
        self.num_envs, self.max_episode_steps = int(num_envs), max_episode_steps
        self.single_observation_space, self.single_action_space = first.observation_space, first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {**first.metadata, "autoreset_mode": mode}
        self.render_mode = first.render_mode
        self._elapsed = np.zeros(self.num_envs, np.int64)
        self._needs_reset = np.zeros(self.num_envs, bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        seeds = env_seeds(seed, self.num_envs)
        for env, s in zip(self.envs, seeds, strict=True):
            env._begin_episode(s)
        self._elapsed[:], self._needs_reset[:] = 0, False
        observations = self._observe(range(self.num_envs))
        infos: dict[str, Any] = {}
        for i, env in enumerate(self.envs):
            infos = self._add_info(infos, env._with_goal_info(env._reset_info()), i)
        return self._batch(observations), infos

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {actions.shape}, expected {self.action_space.shape}")
        checked = [env.check_action(a) if not self._needs_reset[i] else None
                   for i, (env, a) in enumerate(zip(self.envs, actions, strict=True))]  # all, before anyone moves
        same_step = self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
        rewards = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        infos: dict[str, Any] = {}
        live = []
        for i, env in enumerate(self.envs):
            if self._needs_reset[i]:  # next-step mode: this step is the reset
                env._begin_episode(None)
                self._elapsed[i] = 0
                live.append(i)
                continue
            rewards[i], terminated[i], truncated[i], info = env._step_physics(checked[i], checked=True)
            self._elapsed[i] += 1
            if self.max_episode_steps is not None and self._elapsed[i] >= self.max_episode_steps:
                truncated[i] = True
            if "physics_error" not in info:
                live.append(i)
            infos = self._add_info(infos, info, i)
        observations = self._observe(live)
        done = terminated | truncated
        if same_step and done.any():
            observations, infos = self._reset_done(np.flatnonzero(done), observations, infos)
            self._needs_reset[:] = False
        else:
            self._needs_reset = done
        return self._batch(observations), rewards, terminated, truncated, infos

    def _reset_done(self, done: np.ndarray, observations: list, infos: dict[str, Any]) -> tuple[list, dict[str, Any]]:
        """Same-step autoreset: keep the ended episodes' last observations and infos, start new ones."""
        final_obs = np.full(self.num_envs, None, dtype=object)
        final_info = np.full(self.num_envs, None, dtype=object)
        for i in done:
            final_obs[i] = observations[i]
            final_info[i] = {k: v[i] for k, v in infos.items() if not k.startswith("_") and infos[f"_{k}"][i]}
            self.envs[i]._begin_episode(None)
            self._elapsed[i] = 0
        fresh = self._observe(list(done))
        for i in done:
            observations[i] = fresh[i]
        mask = np.zeros(self.num_envs, bool)
        mask[done] = True
        finals = {"final_obs": final_obs, "_final_obs": mask, "final_info": final_info, "_final_info": mask.copy()}
        return observations, {**infos, **finals}

    def _observe(self, which) -> list:
        """Observations of every sub-env, fresh for those in ``which`` (the others keep their last one);
        with ``rgb``, one batched renderer call for all their cameras."""
        which = list(which)
        frames = {i: self.envs[i]._capture() for i in which}
        learned: dict[int, list[np.ndarray]] = {}
        if "rgb" in self.envs[0].modes and which:
            requests = {i: self.envs[i]._learned_requests(frames[i]) for i in which}
            flat = [r for i in which for r in requests[i]]
            drawn = obs_lib.render_learned(self.envs[0].renderer, *map(list, zip(*flat, strict=True)))
            n = len(self.envs[0].camera_names)
            learned = {i: drawn[k * n:(k + 1) * n] for k, i in enumerate(which)}
        return [env._observe(learned.get(i), frames[i]) if i in frames else env._last_obs for i, env in enumerate(self.envs)]

    def _batch(self, observations: list):
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


def _for(task: type[WorldsimEnv]) -> type[WorldsimVectorEnv]:
    """The batched vector env of one task, a module attribute so ids can name it by string."""
    return type(f"{task.__name__}Vector", (WorldsimVectorEnv,), {"task": task, "__module__": __name__})


PandaReachVector = _for(PandaReach)
PandaPushVector = _for(PandaPush)
PandaPickAndPlaceVector = _for(PandaPickAndPlace)
PandaStackVector = _for(PandaStack)
BilliardsShotVector = _for(BilliardsShot)
LaunchToBinVector = _for(LaunchToBin)
