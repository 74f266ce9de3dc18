"""``ProcessVectorEnv``: a batched vector env split over worker processes, for machines with cores to spare.

``gymnasium.make_vec("worldsim/PandaPush-v0", num_envs=8, workers=2, obs_mode="rgb")`` gives one:
each worker process holds a :class:`~worldsim_envs.vector.WorldsimVectorEnv` over its share of the
envs, steps their physics, draws their maps and renders its share of frames in one batched model
call, while the other workers do the same. PyBullet holds Python's GIL while it rasterizes, so
threads cannot overlap the map passes; processes can. Each worker sets torch to
``cores // workers`` threads, so the workers do not oversubscribe the machine.

To the caller it is the same vector env: the same spaces, the same autoreset modes and infos (merged
from the workers in env order), the same seeding (env ``i`` of ``reset(seed=s)`` gets ``s + i``), and
every sub-env's action checked before any worker steps. Workers start with ``spawn``: PyBullet
and torch are not fork-safe once used. A worker that fails raises its error, with its traceback, in
the caller.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space
from worldsim_envs.vector import env_seeds


class WorkerError(RuntimeError):
    """A worker process raised; the message carries its traceback."""


def _serve(conn, task, num_envs: int, threads: int, vector_kwargs: dict[str, Any]) -> None:
    """A worker's loop: build its share of envs, then answer ``(command, data)`` until ``close``."""
    import torch
    import worldsim_envs  # noqa: F401  (a spawned process must register the ids)
    from worldsim_envs.vector import WorldsimVectorEnv

    torch.set_num_threads(threads)
    env = None
    while True:
        command, data = conn.recv()
        try:
            if command == "make":
                env = WorldsimVectorEnv(num_envs, task=task, **vector_kwargs)
                result = (env.single_observation_space, env.single_action_space, env.metadata, env.render_mode)
            elif command == "reset":
                result = env.reset(seed=data[0], options=data[1])
            elif command == "step":
                result = env.step(data)
            elif command == "render":
                result = env.render()
            elif command == "close":
                if env is not None:
                    env.close()
                conn.send(("ok", None))
                return
            else:
                raise ValueError(f"unknown worker command {command!r}")
            conn.send(("ok", result))
        except Exception:  # the caller re-raises it; the worker stays up for close()
            conn.send(("error", traceback.format_exc()))


def merge_infos(parts: list[tuple[dict[str, Any], int, int]], num_envs: int) -> dict[str, Any]:
    """One vector-env info dict from several shards' ``(infos, offset, size)``.

    Every array keeps its dtype and trailing shape; a key a shard lacks stays zero (None for
    objects) with its ``_key`` mask False there, as Gymnasium's own vector envs leave it.
    """
    out: dict[str, Any] = {}
    for infos, offset, size in parts:
        for key, value in infos.items():
            if isinstance(value, dict):
                earlier = [(out[key], 0, num_envs)] if key in out else []
                out[key] = merge_infos(earlier + [(value, offset, size)], num_envs)
                continue
            value = np.asarray(value)
            if key not in out:
                fill = None if value.dtype == object else 0
                out[key] = np.full((num_envs, *value.shape[1:]), fill, dtype=value.dtype)
            out[key][offset:offset + size] = value
    return out


def _shares(num_envs: int, workers: int) -> list[tuple[int, int]]:
    """(offset, size) of each worker's envs: sizes differ by at most one."""
    sizes = [num_envs // workers + (w < num_envs % workers) for w in range(workers)]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    return list(zip(offsets.tolist(), sizes, strict=True))


class ProcessVectorEnv(VectorEnv):
    """``num_envs`` worlds of one task over ``workers`` processes (see the module docstring).

    Args:
        task: the task class (a :class:`~worldsim_envs.core.WorldsimEnv` subclass).
        num_envs: how many worlds in all.
        workers: how many processes (at most ``num_envs``).
        **kwargs: passed to each worker's :class:`~worldsim_envs.vector.WorldsimVectorEnv`
            (``max_episode_steps``, ``autoreset_mode``, ``obs_mode``, ``image_size``, ``device``, …).
    """

    def __init__(self, task, num_envs: int, workers: int, **kwargs):
        if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or not 1 <= workers <= num_envs:
            raise ValueError(f"workers must be an int from 1 to num_envs={num_envs}, got {workers!r}")
        self.num_envs, self.workers = int(num_envs), int(workers)
        self._shares = _shares(self.num_envs, self.workers)
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        context = mp.get_context("spawn")
        self._conns, self._procs = [], []
        for _, size in self._shares:
            parent, child = context.Pipe()
            proc = context.Process(target=_serve, args=(child, task, size, threads, kwargs), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        try:
            first = self._all("make", [None] * self.workers)[0]
        except BaseException:
            self._stop()
            raise
        self.single_observation_space, self.single_action_space, metadata, self.render_mode = first
        self.metadata = dict(metadata)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _all(self, command: str, data: list) -> list:
        """Send each worker its command, then gather every answer (raising the first error)."""
        for conn, item in zip(self._conns, data, strict=True):
            conn.send((command, item))
        answers = [conn.recv() for conn in self._conns]
        errors = [(w, payload) for w, (status, payload) in enumerate(answers) if status == "error"]
        if errors:
            worker, trace = errors[0]
            raise WorkerError(f"worker {worker} failed:\n{trace}")
        return [payload for _, payload in answers]

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        seeds = env_seeds(seed, self.num_envs)
        results = self._all("reset", [(seeds[o:o + n], options) for o, n in self._shares])
        observations = [obs for obs, _ in results]
        infos = merge_infos([(info, o, n) for (_, info), (o, n) in zip(results, self._shares, strict=True)], self.num_envs)
        return self._gather(observations), infos

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {actions.shape}, expected {self.action_space.shape}")
        if not np.all(np.isfinite(actions)):  # checked here, so no worker steps when one sub-env's action is bad
            bad = sorted({int(i) for i in np.argwhere(~np.isfinite(actions))[:, 0]})
            raise ValueError(f"actions of sub-envs {bad} contain NaN or inf")
        results = self._all("step", [actions[o:o + n] for o, n in self._shares])
        observations, rewards, terminated, truncated, infos = zip(*results, strict=True)
        merged = merge_infos([(info, o, n) for info, (o, n) in zip(infos, self._shares, strict=True)], self.num_envs)
        return (self._gather(list(observations)), np.concatenate(rewards), np.concatenate(terminated),
                np.concatenate(truncated), merged)

    def _gather(self, shards: list) -> Any:
        """The workers' batched observations as one batch, in env order."""
        return _concatenate(shards)

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Each sub-env's ``render()``, in env order."""
        if self.render_mode is None:
            return None
        return tuple(frame for frames in self._all("render", [None] * self.workers) for frame in frames)

    def close_extras(self, **kwargs) -> None:
        try:
            self._all("close", [None] * self.workers)
        except (OSError, EOFError, WorkerError):
            pass  # a worker already gone has nothing left to close
        self._stop()

    def _stop(self) -> None:
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()



def _concatenate(batches: list) -> Any:
    """Batched observations (arrays, or dicts of them) joined along the env axis."""
    if isinstance(batches[0], dict):
        return {key: _concatenate([b[key] for b in batches]) for key in batches[0]}
    return np.concatenate(batches, axis=0)
