"""Recording episodes through Minari's DataCollector (``worldsim_envs.recording``)."""

from __future__ import annotations

import numpy as np
import pytest

minari = pytest.importorskip("minari")
pytest.importorskip("jax")  # DataCollector's episode buffers use jax's tree utilities

from worldsim_envs.recording import record_minari  # noqa: E402


@pytest.fixture
def datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    return tmp_path


def test_one_shot_episodes_round_trip_with_their_seeds_and_endings(datasets):
    """A one-shot task: each episode is one step ending terminated, not truncated, and loads back as recorded."""
    dataset = record_minari("worldsim/LaunchToBin-v0", "worldsim/test-launch-v0", episodes=3, seed=5)
    assert (dataset.total_episodes, dataset.total_steps) == (3, 3)
    episodes = list(minari.load_dataset("worldsim/test-launch-v0").iterate_episodes())
    for episode in episodes:
        assert episode.terminations.tolist() == [True] and episode.truncations.tolist() == [False]
        assert len(episode.observations) == 2 and episode.actions.shape == (1, 2)  # reset obs + one step
    # the reset seeds are 5, 6, 7: recording the same seeds again starts from the same observations
    again = record_minari("worldsim/LaunchToBin-v0", "worldsim/test-launch-v1", episodes=3, seed=5)
    firsts = [np.asarray(e.observations[0]) for e in again.iterate_episodes()]
    np.testing.assert_array_equal(firsts, [np.asarray(e.observations[0]) for e in episodes])
    assert not np.array_equal(firsts[0], firsts[1])  # and the seeds differ per episode


def test_an_existing_dataset_id_is_refused_before_any_episode_runs(datasets, monkeypatch):
    record_minari("worldsim/LaunchToBin-v0", "worldsim/test-taken-v0", episodes=1)
    ran = []
    with pytest.raises(ValueError, match="test-taken-v0.*already exists"):
        record_minari("worldsim/LaunchToBin-v0", "worldsim/test-taken-v0", episodes=1,
                      policy=lambda obs, rng: ran.append(1) or np.zeros(2, np.float32))
    assert ran == []


def test_zero_episodes_is_refused(datasets):
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        record_minari("worldsim/LaunchToBin-v0", "worldsim/test-none-v0", episodes=0)
