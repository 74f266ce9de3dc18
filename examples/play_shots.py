"""Watch a trained one-shot agent: what it saw, the shot it chose, the flight drawn by the world model.

    python examples/play_shots.py --model runs/sac_launch_rgb/model.zip --image-size 32 --out runs/sac_launch_rgb

For each held-out seed the agent sees its pixel observation and picks a shot; the same episode is
then replayed (same seed, same action, so the same physics) in a viewer env whose
``frame_callback`` films every simulated frame, drawn by the reference renderer and by the learned
renderer side by side. Writes ``OUT/shots.mp4`` (reference | world model, all episodes in turn) and
``OUT/shots.png`` (per episode: the agent's observation above a stroboscopic picture of its shot,
the ball pasted in from every other frame the world model drew).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
import worldsim_envs  # noqa: F401  (registers the ids)
from stable_baselines3 import SAC
from worldsim_envs.shots import ShotTask

from worldsim import render_frame
from worldsim.video import write_mp4

VIEW = 64  # the viewer's frame size: the shipped renderer's native resolution


def film_episode(viewer: gym.Env, seed: int, action: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], bool]:
    """Replay one shot in ``viewer``.

    Returns:
        Its frames (reference | learned side by side), per frame the mask of the launched body,
        and whether the shot succeeded.
    """
    env = viewer.unwrapped
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []

    def film(e) -> None:
        reference = render_frame(e.world, e.camera, (VIEW, VIEW), passes="rgb", visibility=False)
        frames.append(np.concatenate([reference.rgb, e.render()], axis=1))
        masks.append(np.tile(reference.segmentation == e.world.index(e.subject), (1, 2)))

    viewer.reset(seed=seed)
    film(env)
    env.frame_callback = film
    try:
        _, _, _, _, info = viewer.step(action)
    finally:
        env.frame_callback = None
    return frames, masks, bool(info["is_success"])


def trail(frames: list[np.ndarray], masks: list[np.ndarray], every: int = 2) -> np.ndarray:
    """Stroboscopic picture: the last frame with the launched body pasted in from every ``every``-th frame."""
    out = frames[-1].copy()
    for frame, mask in list(zip(frames, masks, strict=True))[::every]:
        out[mask] = frame[mask]
    return out


def strip(observations: list[np.ndarray], finals: list[np.ndarray]) -> np.ndarray:
    """Two rows: the agent's observations (upscaled to ``VIEW``) above pictures of the shots."""
    scale = VIEW // observations[0].shape[0]
    top = [np.kron(o, np.ones((scale, scale, 1), np.uint8)) for o in observations]
    gap = np.full((VIEW, 2, 3), 255, np.uint8)

    def row(images: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([x for im in images for x in (im, gap)][:-1], axis=1)

    upper, lower = row(top), row(finals)
    return np.concatenate([upper, np.full((2, upper.shape[1], 3), 255, np.uint8), lower], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model.zip from train_sac_her.py (trusted files only)")
    parser.add_argument("--env", default="worldsim/LaunchToBin-v0")
    parser.add_argument("--obs-mode", default="rgb", choices=("rgb", "rgb_reference"), help="what the agent was trained on")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("runs/shots"))
    args = parser.parse_args()
    if not args.model.is_file():
        parser.error(f"--model {args.model}: no such file")
    agent_env = gym.make(args.env, obs_mode=args.obs_mode, image_size=args.image_size)
    if not isinstance(agent_env.unwrapped, ShotTask):
        parser.error(f"{args.env} is not a one-shot task")
    viewer = gym.make(args.env, obs_mode="state", render_mode="rgb_array", image_size=VIEW)
    model = SAC.load(args.model, device="cpu")
    clip, observations, finals, wins = [], [], [], 0
    for k in range(args.episodes):
        obs, _ = agent_env.reset(seed=args.seed + k)
        action, _ = model.predict(obs, deterministic=True)
        frames, masks, success = film_episode(viewer, args.seed + k, action)
        wins += success
        print(f"seed {args.seed + k}: action {[round(float(a), 3) for a in action]}  {'in the bin' if success else 'missed'}"
              f"  ({len(frames)} frames)", flush=True)
        clip += frames + [frames[-1]] * 6  # hold the outcome for a quarter second
        observations.append(obs)
        finals.append(trail(frames, masks)[:, VIEW:])  # the world model's half
    args.out.mkdir(parents=True, exist_ok=True)
    write_mp4(args.out / "shots.mp4", np.stack(clip), fps=viewer.metadata["render_fps"], upscale=4)
    from PIL import Image

    picture = strip(observations, finals)
    Image.fromarray(np.kron(picture, np.ones((3, 3, 1), np.uint8))).save(args.out / "shots.png")
    print(f"{wins}/{args.episodes} in the bin; wrote {args.out}/shots.mp4 and shots.png")


if __name__ == "__main__":
    main()
