"""Learned env pixels with the old TinyRenderer map pass against the compiled one, alternating in one run.

Run: ``python benchmarks/map_pass_ab.py [--rounds 3] [--seconds 4]``. One batched PandaPush vector env
(8 envs, ``obs_mode="rgb"``) steps with random actions; between rounds, ``capture`` switches between
TinyRenderer's maps and shadow map (what the envs used before :mod:`worldsim.teacher.maps`) and the
compiled map pass. Prints env steps/s per round and the ratio of the means.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
import worldsim_envs  # noqa: F401  (registers the ids)
from worldsim_envs import observations

from worldsim import render_frame


def tinyrenderer_capture(world, modes, size, camera):
    """The envs' ``capture`` before the compiled map pass."""
    modes = (modes,) if isinstance(modes, str) else modes
    lit, maps = "rgb_reference" in modes, "rgb" in modes or "rgb_reference" not in modes
    passes = "all" if lit and maps else ("rgb" if lit else "maps")
    return render_frame(world, camera, (size, size), passes=passes, visibility="rgb" in modes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    env = gym.make_vec("worldsim/PandaPush-v0", num_envs=8, vectorization_mode="vector_entry_point", obs_mode="rgb")
    env.reset(seed=0)
    passes = {"TinyRenderer": tinyrenderer_capture, "compiled": observations.capture}
    rates: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(args.rounds):
        for name, capture in passes.items():
            observations.capture = capture
            for _ in range(2):  # warm-up
                env.step(env.action_space.sample())
            start, steps = time.perf_counter(), 0
            while time.perf_counter() - start < args.seconds:
                env.step(env.action_space.sample())
                steps += 1
            rates[name].append(8 * steps / (time.perf_counter() - start))
    env.close()
    for name, values in rates.items():
        print(f"{name:12s} " + " ".join(f"{v:7.1f}" for v in values) + f"   mean {np.mean(values):7.1f} steps/s")
    print(f"compiled / TinyRenderer: {np.mean(rates['compiled']) / np.mean(rates['TinyRenderer']):.2f}x")


if __name__ == "__main__":
    main()
