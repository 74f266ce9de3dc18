"""The batched vector env split over worker processes: the same episodes as in one process."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import worldsim_envs  # noqa: F401  (registers the ids)
from gymnasium.vector import AutoresetMode
from worldsim_envs.workers import ProcessVectorEnv, WorkerError, merge_infos

PUSH, LAUNCH = "worldsim/PandaPush-v0", "worldsim/LaunchToBin-v0"


def _rollout(env_id: str, workers: int, steps: int, **kwargs) -> list:
    """(obs, rewards, terminated, truncated, infos) of a fixed action sequence, after reset(seed=5)."""
    envs = gym.make_vec(env_id, num_envs=3, workers=workers, **kwargs)
    try:
        out = [envs.reset(seed=5)]
        rng = np.random.default_rng(0)
        out += [envs.step(rng.uniform(-1, 1, envs.action_space.shape)) for _ in range(steps)]
        return out
    finally:
        envs.close()


def _assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, np.ndarray) and a.dtype == object:
        _assert_same(list(a), list(b))
    else:
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


def test_two_workers_give_the_episodes_of_one_process():
    one = _rollout(PUSH, 1, 4, max_episode_steps=3)
    two = _rollout(PUSH, 2, 4, max_episode_steps=3)
    assert two[3][3].all()  # the time limit truncated every env, so step 4 was a next-step reset
    _assert_same(one, two)


def test_same_step_autoreset_over_workers_keeps_final_observations_and_infos():
    one = _rollout(LAUNCH, 1, 2, autoreset_mode=AutoresetMode.SAME_STEP)
    two = _rollout(LAUNCH, 2, 2, autoreset_mode=AutoresetMode.SAME_STEP)
    assert two[1][4]["_final_obs"].all()
    _assert_same(one, two)


def test_a_bad_action_stops_every_worker_before_it_steps():
    envs = gym.make_vec(PUSH, num_envs=3, workers=2)
    try:
        obs, _ = envs.reset(seed=0)
        actions = np.zeros((3, 3))
        actions[0, 1] = np.nan  # worker 0's env; worker 1 must not step either
        with pytest.raises(ValueError, match=r"sub-envs \[0\]"):
            envs.step(actions)
        first, *_ = envs.step(np.zeros((3, 3)))
    finally:
        envs.close()
    fresh = gym.make_vec(PUSH, num_envs=3)
    fresh.reset(seed=0)
    expected, *_ = fresh.step(np.zeros((3, 3)))
    fresh.close()
    _assert_same(expected, first)


def test_a_worker_that_fails_reports_its_error_and_bad_worker_counts_are_refused():
    with pytest.raises(WorkerError, match="obs_mode"):
        gym.make_vec(PUSH, num_envs=2, workers=2, obs_mode="colour")
    for bad in (0, 3, 1.5):
        with pytest.raises(ValueError, match="workers"):
            ProcessVectorEnv(worldsim_envs.PandaPush, 2, bad)


def test_learned_pixels_over_workers_match_one_process():
    kwargs = {"obs_mode": "rgb", "image_size": 32}
    one = _rollout(PUSH, 1, 1, **kwargs)
    two = _rollout(PUSH, 2, 1, **kwargs)
    for (a, *_), (b, *_) in zip(one, two, strict=True):
        diff = np.abs(a["observation"].astype(int) - b["observation"].astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.05  # batch-size rounding only: each frame has its own noise seed


def test_merged_infos_keep_dtypes_masks_and_nesting():
    a = {"x": np.array([1.5, 2.5]), "_x": np.array([True, True]), "d": {"k": np.array([1, 2], np.int64),
                                                                         "_k": np.array([True, False])}}
    b = {"flag": np.array([True]), "_flag": np.array([True]), "d": {"k": np.array([7], np.int64), "_k": np.array([True])}}
    merged = merge_infos([(a, 0, 2), (b, 2, 1)], 3)
    np.testing.assert_array_equal(merged["x"], [1.5, 2.5, 0.0])
    np.testing.assert_array_equal(merged["_x"], [True, True, False])
    assert merged["flag"].dtype == bool and merged["flag"].tolist() == [False, False, True]
    assert merged["d"]["k"].tolist() == [1, 2, 7] and merged["d"]["_k"].tolist() == [True, False, True]
