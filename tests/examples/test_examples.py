"""The agent examples as a user runs them: the pixel encoder, the blind baseline, the training script."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

from constant_baseline import action_grid, constant_success  # noqa: E402
from pixel_encoder import ShiftCNN, random_shift  # noqa: E402


def test_random_shift_is_a_translation_with_replicated_edges():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    shifted = random_shift(images, pad=2, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    for b in range(2):
        # each image must equal one 8x8 window of its padded self, the same window in every channel
        windows = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(shifted[b], padded[b, :, dy:dy + 8, dx:dx + 8])]
        assert len(windows) == 1


def test_shift_cnn_augments_only_in_training():
    space = gym.spaces.Box(0, 255, (3, 32, 32), np.uint8)
    encoder = ShiftCNN(space, features_dim=16)
    x = torch.rand(4, 3, 32, 32)
    encoder.eval()
    a, b = encoder(x), encoder(x)
    assert a.shape == (4, 16) and torch.equal(a, b)
    assert a.abs().max() <= 1.0  # tanh-squashed features
    encoder.train()
    torch.manual_seed(0)
    assert not torch.equal(encoder(x), a)  # random shifts change what the critic sees


def test_constant_baseline_scores_fixed_actions():
    import worldsim_envs  # noqa: F401

    env = gym.make("worldsim/LaunchToBin-v0")
    grid = action_grid(env.action_space, 3)
    assert len(grid) == 9 and all(env.action_space.contains(a) for a in grid)
    # the softest, flattest shot cannot reach a bin standing 1.2-3 m away
    assert constant_success(env, np.array([-1.0, -1.0], np.float32), episodes=3) == 0.0


def test_train_script_runs_and_writes_its_curve(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_sac_her.py"), "--env", "worldsim/LaunchToBin-v0",
         "--obs-mode", "rgb_reference", "--image-size", "32", "--steps", "40", "--eval-every", "20", "--eval-episodes", "2",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads((out / "success.json").read_text())
    assert [h["env_steps"] for h in history] == [20, 40]
    assert all(0.0 <= h["success_rate"] <= 1.0 for h in history)
    assert (out / "success.png").stat().st_size > 0 and (out / "model.zip").exists()

    # then watch it and plot it, as the README's agent section does
    shots = subprocess.run(
        [sys.executable, str(EXAMPLES / "play_shots.py"), "--model", str(out / "model.zip"), "--obs-mode", "rgb_reference",
         "--image-size", "32", "--episodes", "1", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert shots.returncode == 0, shots.stderr[-2000:]
    assert "seed 2000: action" in shots.stdout
    assert (out / "shots.mp4").stat().st_size > 0 and (out / "shots.png").stat().st_size > 0
    plot = subprocess.run(
        [sys.executable, str(EXAMPLES / "plot_success.py"), "--run", f"tiny={out}", "--out", str(out / "curves.png")],
        capture_output=True, text=True, timeout=300)
    assert plot.returncode == 0 and (out / "curves.png").stat().st_size > 0, plot.stderr[-2000:]


@pytest.mark.parametrize("script, args, message", [
    ("train_sac_her.py", ["--encoder=vit"], "invalid choice"),
    ("play_shots.py", ["--model", "no/such/model.zip"], "no such file"),
    ("plot_success.py", ["--run", "no-equals-sign", "--out", "x.png"], "LABEL=DIR"),
    ("plot_success.py", ["--run", "a=no/such/run", "--out", "x.png"], "does not exist"),
])
def test_example_scripts_refuse_bad_arguments_clearly(script, args, message):
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_record_and_clone_round_trips_through_minari(tmp_path, monkeypatch):
    """The recording example on a tiny budget: Minari writes, loads back, and the clone learns."""
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    from record_and_clone import main

    result = main(["--episodes", "6", "--eval-episodes", "5", "--obs-mode", "proprio+depth", "--image-size", "16",
                   "--train-steps", "600", "--dataset-id", "worldsim/test-reach-v0"])
    assert result["episodes"] == 6 and result["steps"] > 6
    import minari

    dataset = minari.load_dataset("worldsim/test-reach-v0")
    episode = next(dataset.iterate_episodes())
    assert episode.observations["depth"].shape[1:] == (16, 16, 1)
    assert "is_success" in episode.infos and len(episode.rewards) == len(episode.actions)
    assert result["success"] >= 0.6  # the expert succeeds every time; an untrained net almost never
