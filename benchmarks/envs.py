"""Environment steps per second per observation mode, single and vectorized, beside raw PyBullet.

Run: ``python benchmarks/envs.py [--env worldsim/PandaPush-v0] [--seconds 3] [--rounds 5] [--device cpu]``.
Every cell is measured in the same run (random actions, fixed seconds of stepping after a
warm-up). Within a column (N envs, W workers) the pixel modes' envs (``rgb_reference``, ``rgb``,
``rgb_compiled``) are built together and stepped in turns, ``--rounds`` turns of
``seconds / rounds`` each, and a cell is the median of its turns: this machine's speed drifts by
20 % from one minute to the next, and modes measured one after the other inherited that drift into
their ratio. The ``/ rgb_reference`` lines are medians of the per-round ratios; ``rgb_compiled`` is
``rgb`` with ``compile_renderer=True`` (compiled before the timing). Rows: raw
``pybullet.stepSimulation`` for the physics steps of one env step, ``PhysicsWorld.step_frames``
(adds events, contact collection and the blow-up check), panda-gym's own env for the same task
(state and its TinyRenderer ``rgb_array`` render; installed by this script into the worldsim cache,
not a dependency; ``--no-panda-gym`` skips it), then ``gym.make`` (one env) and ``gym.make_vec``
with 8 and 32 envs for each obs mode, and the 8 envs split over ``--workers`` processes
(``workers=`` of ``make_vec``; default 2, 1 skips it). Vector figures count every sub-env step.
Writes ``benchmarks/results/envs.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pybullet as pb
import worldsim_envs  # noqa: F401  (registers the ids)

from worldsim.io import cache_dir

MODES = ("state", "rgb_reference", "rgb", "rgb_compiled", "depth")
LEARNED = ("rgb", "rgb_compiled")  # rgb_compiled: obs_mode="rgb" with compile_renderer=True
TAKE_TURNS = ("rgb_reference", *LEARNED)
PANDA_GYM = {"worldsim/PandaPush-v0": "PandaPush-v3", "worldsim/PandaReach-v0": "PandaReach-v3",
             "worldsim/PandaPickAndPlace-v0": "PandaPickAndPlace-v3", "worldsim/PandaStack-v0": "PandaStack-v3"}


def _rate(step, per_call: int, seconds: float) -> float:
    step()  # warm-up (first render loads the model)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        calls += 1
    return calls * per_call / (time.perf_counter() - start)


def _physics_rows(env_id: str, seconds: float) -> dict[str, float]:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    world, n = env.world, env.world.spec.sim.steps_per_frame

    def raw():
        for _ in range(n):
            pb.stepSimulation(physicsClientId=world.client)

    rows = {"raw pybullet": _rate(raw, 1, seconds), "PhysicsWorld.step_frames": _rate(lambda: world.step_frames(1), 1, seconds)}
    env.close()
    return rows


def _panda_gym_rows(env_id: str, seconds: float) -> dict[str, float]:
    """panda-gym's env for the same task, installed (without dependencies) into the cache on first use."""
    target = cache_dir("bench_panda_gym")
    if not (target / "panda_gym").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        "panda-gym==3.0.7"], check=True)
    sys.path.insert(0, str(target))
    import panda_gym  # noqa: F401  (registers its ids)

    rows = {}
    pixels = {"render_mode": "rgb_array", "render_width": 64, "render_height": 64}
    for label, kwargs in (("panda-gym state", {}), ("panda-gym render rgb_array 64", pixels)):
        env = gym.make(PANDA_GYM[env_id], **kwargs)
        env.reset(seed=0)

        def step(env=env, render=bool(kwargs)):
            env.step(env.action_space.sample())
            if render:
                env.render()

        rows[label] = _rate(step, 1, seconds)
        env.close()
    return rows


def _make(env_id: str, mode: str, num_envs: int, device: str, workers: int):
    kwargs = {"obs_mode": "rgb", "compile_renderer": True} if mode == "rgb_compiled" else {"obs_mode": mode}
    if num_envs == 1:
        env = gym.make(env_id, device=device, **kwargs)
    else:
        env = gym.make_vec(env_id, num_envs=num_envs, device=device, workers=workers, **kwargs)
    env.reset(seed=0)
    return env


def _column_rates(env_id: str, modes: list[str], num_envs: int, seconds: float, rounds: int, device: str,
                  workers: int = 1) -> dict[str, list[float]]:
    """Per mode, its steps/s in each of ``rounds`` turns. The pixel modes compared with each other
    (``TAKE_TURNS``) coexist and take turns; the others run alone (32 PandaPush worlds hold ~2 GB,
    and five modes' worth at once ran this 24 GiB machine out of memory)."""
    together = [m for m in modes if m in TAKE_TURNS]
    groups = ([together] if together else []) + [[m] for m in modes if m not in TAKE_TURNS]
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    for group in groups:
        envs = {mode: _make(env_id, mode, num_envs, device, workers) for mode in group}
        try:
            for _ in range(rounds):
                for mode, env in envs.items():
                    rates[mode].append(_rate(lambda env=env: env.step(env.action_space.sample()), num_envs,
                                             seconds / rounds))
        finally:
            for env in envs.values():
                env.close()
            _give_memory_back()
    return rates


def _give_memory_back() -> None:
    """Collect, then return freed heap to the OS (glibc keeps it for reuse): the next column's worker processes
    need it, and without this the run held 11 GB after the 32-env columns."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="worldsim/PandaPush-v0")
    parser.add_argument("--seconds", type=float, default=3.0, help="stepping time per cell, over all rounds")
    parser.add_argument("--rounds", type=int, default=5, help="turns the modes of a column take")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num-envs", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument("--workers", type=int, default=2, help="processes for the extra N=8 column (1: skip it)")
    parser.add_argument("--no-panda-gym", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/envs.json"))
    args = parser.parse_args(argv)

    physics = _physics_rows(args.env, args.seconds)
    if not args.no_panda_gym and args.env in PANDA_GYM:
        physics.update(_panda_gym_rows(args.env, args.seconds))
    columns = [(str(n), n, 1) for n in args.num_envs]
    if args.workers > 1:
        columns.append((f"8/{args.workers}w", 8, args.workers))
    table: dict[str, dict[str, float]] = {mode: {} for mode in args.modes}
    ratios: dict[str, dict[str, float]] = {mode: {} for mode in LEARNED if mode in args.modes}
    for key, n, workers in columns:
        rates = _column_rates(args.env, args.modes, n, args.seconds, args.rounds, args.device, workers)
        for mode in args.modes:
            table[mode][key] = float(np.median(rates[mode]))
            print(f"{mode:>14s}  envs={n:<3d} workers={workers} {table[mode][key]:8.1f} steps/s  "
                  f"(turns: {' '.join(f'{r:.0f}' for r in rates[mode])})", flush=True)
        if "rgb_reference" in rates:
            for mode in ratios:
                ratios[mode][key] = float(np.median(np.divide(rates[mode], rates["rgb_reference"])))

    print(f"\n{args.env}, env steps/s ({platform.processor() or platform.machine()}, device {args.device})")
    for name, rate in physics.items():
        print(f"{name:>26s}  {rate:8.1f}")
    header = "".join(f"{'N=' + key:>10s}" for key, _, _ in columns)
    print(f"{'obs mode':>26s}{header}   (N=1: gym.make; N>1: gym.make_vec, all sub-env steps counted; "
          f"8/Ww: 8 envs over W worker processes)")
    for mode, row in table.items():
        ratio = row["1"] / physics["raw pybullet"] if "1" in row else float("nan")
        print(f"{mode:>26s}" + "".join(f"{row[key]:10.1f}" for key, _, _ in columns) + f"   single = {ratio:.3f} x raw")
    for mode, row in ratios.items():
        print(f"{mode + ' / rgb_reference':>26s}" + "".join(f"{row.get(key, float('nan')):10.2f}" for key, _, _ in columns)
              + "   (median of the rounds' ratios)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"env": args.env, "device": args.device, "machine": platform.machine(), "physics": physics,
              "steps_per_s": table, "rounds": args.rounds, "over_rgb_reference": ratios}
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
