"""Record PandaReach episodes of a scripted expert as a Minari dataset, load it back through Minari,
train a small behaviour-cloning policy on it, and score the clone on held-out seeds.

Run: ``python examples/record_and_clone.py [--episodes 40] [--obs-mode proprio+rgb] [--image-size 64]``
(needs ``pip install -e ".[record]"``). The dataset lands under ``$MINARI_DATASETS_PATH`` (default
``~/.minari/datasets``); images are stored at ``--image-size``, whatever the policy uses. The clone
reads the proprioception and the goal (an MLP); the images are there for pixel learners.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch
import worldsim_envs  # noqa: F401  (registers the ids)
from worldsim_envs.recording import record_minari

ENV = "worldsim/PandaReach-v0"


def expert(obs, rng: np.random.Generator) -> np.ndarray:
    """Head for the goal: the gripper position is proprio[15:18] (see worldsim_envs.panda)."""
    error = obs["desired_goal"] - obs["proprio"][15:18]
    return np.clip(error / 0.05, -1.0, 1.0) + rng.normal(0.0, 0.05, 3)  # a little noise widens the data


def features(proprio: np.ndarray, goal: np.ndarray) -> np.ndarray:
    return np.concatenate([proprio, goal, goal - proprio[..., 15:18]], axis=-1).astype(np.float32)


def train_clone(dataset, steps: int, seed: int) -> torch.nn.Module:
    """An MLP regressing the recorded actions from (proprioception, goal)."""
    x, y = [], []
    for episode in dataset.iterate_episodes():
        obs = episode.observations
        x.append(features(obs["proprio"][:-1], obs["desired_goal"][:-1]))
        y.append(episode.actions.astype(np.float32))
    x, y = torch.from_numpy(np.concatenate(x)), torch.from_numpy(np.concatenate(y))
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                              torch.nn.ReLU(), torch.nn.Linear(128, y.shape[1]), torch.nn.Tanh())
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (256,))
        loss = torch.nn.functional.mse_loss(net(x[idx]), y[idx])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net


def success_rate(net: torch.nn.Module, env_kwargs: dict, seeds: range) -> float:
    env = gym.make(ENV, **env_kwargs)
    wins = 0
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        info, done = {}, False
        while not done:
            with torch.no_grad():
                action = net(torch.from_numpy(features(obs["proprio"], obs["desired_goal"]))).numpy()
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        wins += bool(info.get("is_success"))
    env.close()
    return wins / len(seeds)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--obs-mode", default="proprio+rgb")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=1500)
    parser.add_argument("--dataset-id", default="worldsim/reach-expert-v0")
    args = parser.parse_args(argv)

    import minari

    if args.dataset_id in minari.list_local_datasets():
        minari.delete_dataset(args.dataset_id)
    env_kwargs = {"obs_mode": args.obs_mode, "image_size": args.image_size, "render_steps": 1}
    record_minari(ENV, args.dataset_id, args.episodes, expert, seed=0, env_kwargs=env_kwargs)
    dataset = minari.load_dataset(args.dataset_id)  # back through Minari, as a user would
    print(f"recorded {dataset.total_episodes} episodes, {dataset.total_steps} steps; observation keys "
          f"{sorted(dataset.observation_space.spaces)}", flush=True)
    net = train_clone(dataset, args.train_steps, seed=0)
    # the clone reads no pixels, so its evaluation draws only a tiny depth image beside the proprioception
    rate = success_rate(net, {"obs_mode": "proprio+depth", "image_size": 8}, range(10_000, 10_000 + args.eval_episodes))
    print(f"behaviour clone: success {rate:.2f} on {args.eval_episodes} held-out seeds")
    return {"episodes": dataset.total_episodes, "steps": dataset.total_steps, "success": rate}


if __name__ == "__main__":
    main()
