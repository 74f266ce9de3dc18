"""Train Stable-Baselines3 SAC (with hindsight experience replay on goal tasks) on a worldsim env.

    python examples/train_sac_her.py --env worldsim/PandaReach-v0 --steps 20000 --out runs/sac_reach
    python examples/train_sac_her.py --env worldsim/LaunchToBin-v0 --obs-mode rgb --image-size 32 \
        --steps 6000 --out runs/sac_launch_rgb

Every ``--eval-every`` environment steps the deterministic policy is run for ``--eval-episodes``
episodes on held-out seeds; the success rate against environment steps goes to
``OUT/success.json`` and ``OUT/success.png``. The trained policy is saved as ``OUT/model.zip``
(SB3's format: load only files you made yourself, it unpickles).

Image observations of one-shot tasks get ``--encoder`` (default: the shift-augmented CNN of
``pixel_encoder.py``); goal dicts with an image inside get ``ShiftCombined`` (a shift-augmented
CNN per image key beside the vectors) with ``--encoder shift``, SB3's ``CombinedExtractor`` with
``nature``. A Panda task from pixels plus proprioception, with no object state in what the policy
sees:

    python examples/train_sac_her.py --env worldsim/PandaReach-v0 --obs-mode proprio+rgb \
        --no-privileged --steps 6000 --eval-every 1000 --out runs/sac_reach_pixels
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import torch
import worldsim_envs  # noqa: F401  (registers the ids)
from pixel_encoder import ShiftCNN, ShiftCombined  # sibling files: scripts run with examples/ on sys.path
from plot_success import plot_curves
from stable_baselines3 import SAC, HerReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from worldsim_envs.observations import PIXEL_MODES, parse_obs_mode

from worldsim.io import write_atomic

EVAL_SEED = 10**6  # held-out seeds EVAL_SEED, EVAL_SEED+1, …: training episodes never use them


def success_rate(model: SAC, env: gym.Env, episodes: int, seed: int = EVAL_SEED) -> float:
    """Fraction of ``episodes`` (seeds ``seed``, ``seed+1``, …) that end in success.

    ``model`` is anything with SB3's ``predict(obs, deterministic=True) -> (action, state)``.
    """
    wins = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, info = False, {}
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        wins += bool(info.get("is_success"))
    return wins / episodes


class Evaluate(BaseCallback):
    """Periodic success-rate evaluation with a progress line (rate, ETA)."""

    def __init__(self, env: gym.Env, every: int, episodes: int, total: int, out: Path):
        super().__init__()
        self.env, self.every, self.episodes, self.total, self.out = env, every, episodes, total, out
        self.history: list[dict] = []
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every == 0:
            rate = success_rate(self.model, self.env, self.episodes)
            elapsed = time.perf_counter() - self.start
            eta = elapsed / self.num_timesteps * (self.total - self.num_timesteps)
            self.history.append({"env_steps": self.num_timesteps, "success_rate": rate, "seconds": round(elapsed, 1)})
            print(f"steps {self.num_timesteps:>7d}  success {rate:.2f}  {self.num_timesteps / elapsed:.0f} steps/s  "
                  f"ETA {eta / 60:.1f} min", flush=True)
            write_atomic(self.out / "success.json", json.dumps(self.history, indent=2))
        return True


def policy_kwargs(image_obs: bool, encoder: str, goal: bool = False) -> dict:
    """Network settings: two 256-unit layers, and for image observations the chosen encoder
    (``shift`` on a goal dict: :class:`ShiftCombined`, a shift-augmented CNN per image key)."""
    kwargs: dict = {"net_arch": [256, 256]}
    if image_obs:
        kwargs["normalize_images"] = True
        if encoder == "shift":
            kwargs["features_extractor_class"] = ShiftCombined if goal else ShiftCNN
    return kwargs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="worldsim/PandaReach-v0")
    parser.add_argument("--obs-mode", default="state")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--eval-every", type=int, default=2_000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-freq", type=int, default=1, help="env steps per gradient step (pixels: try 2-4)")
    parser.add_argument("--image-size", type=int, default=64, help="side of pixel observations")
    parser.add_argument("--encoder", choices=("shift", "nature"), default="shift",
                        help="shift: small CNN with DrQ random shifts (pixel_encoder.py); nature: SB3's NatureCNN")
    parser.add_argument("--no-privileged", dest="privileged", action="store_false",
                        help="keep object state out of the observations (the env's privileged=False)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=Path("runs/sac_her"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    if args.threads:
        torch.set_num_threads(args.threads)
    pixels = any(mode in PIXEL_MODES for mode in parse_obs_mode(args.obs_mode))
    kwargs = {"obs_mode": args.obs_mode, "privileged": args.privileged,
              **({"image_size": args.image_size} if pixels else {})}
    env, eval_env = gym.make(args.env, **kwargs), gym.make(args.env, **kwargs)
    goal = isinstance(env.observation_space, gym.spaces.Dict)  # goal tasks get HER; one-shot tasks plain SAC
    policy = "MultiInputPolicy" if goal else ("CnnPolicy" if pixels else "MlpPolicy")
    model = SAC(
        policy, env, seed=args.seed, verbose=0,
        replay_buffer_class=HerReplayBuffer if goal else None,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"} if goal else None,
        learning_starts=min(1_000, args.steps // 4), batch_size=256 if not pixels else 128,
        buffer_size=min(args.steps, 1_000_000),
        gamma=0.95, tau=0.05, train_freq=args.train_freq, learning_rate=1e-3,
        # DrQ's initial temperature for pixels: at SAC's default of 1.0 the entropy bonus outweighs
        # rewards of order 1 for thousands of steps, and the deterministic action drifts meanwhile.
        ent_coef="auto" if not pixels else "auto_0.1",
        policy_kwargs=policy_kwargs(pixels, args.encoder, goal),
    )
    callback = Evaluate(eval_env, args.eval_every, args.eval_episodes, args.steps, args.out)
    model.learn(total_timesteps=args.steps, callback=callback)
    model.save(args.out / "model.zip")
    plot_curves([(args.obs_mode, callback.history)], args.out / "success.png", f"SAC+HER on {args.env}")
    print(f"wrote {args.out}/success.json, success.png, model.zip")


if __name__ == "__main__":
    main()
