"""Learned-renderer throughput beside the reference renderer, measured in one run.

Run: ``python benchmarks/renderer.py [--checkpoint default] [--device cpu]``. For each resolution
(64², 128²) and sampling steps (1, 2, 4): frames/s at batch 1 (one 4-frame window) and batched
(16 windows), the reference renderer's frames/s on the same conditions, and training samples/s.
The 64² rows use the shipped checkpoint; 128² uses the same architecture at 128² with untrained
weights (speed does not depend on the weights). Writes ``benchmarks/results/renderer.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from worldsim import flow
from worldsim.checkpoint import load_model
from worldsim.conditioning import build_conditions, frames_to_model
from worldsim.dataset import clip_arrays
from worldsim.model import WorldDiT
from worldsim.physics import PhysicsWorld
from worldsim.teacher.tiny import render_frame
from worldsim.templates import random_scene


def _inputs(res: int, batch: int, frames: int):
    spec = random_scene(10**9 + 7, res, frames)
    clip = clip_arrays(spec, 0, frames)
    stacked = {k: np.repeat(v[None], batch, axis=0) for k, v in clip.items()}
    return spec, build_conditions(stacked), frames_to_model(stacked["rgb"])


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batched", type=int, default=16)
    args = parser.parse_args()
    device = torch.device(args.device)
    base, _ = load_model(args.checkpoint, device)
    rows = []
    for res in (64, 128):
        cfg = base.config if res == base.config.resolution else type(base.config)(**{**vars(base.config), "resolution": res})
        model = base if res == base.config.resolution else WorldDiT(cfg).to(device).eval()
        frames = cfg.frames
        spec, _, _ = _inputs(res, 1, frames)
        with PhysicsWorld(spec) as world:
            ref = frames / _timed(lambda: [render_frame(world, resolution=(res, res)) for _ in range(frames)], 3)
        for batch in (1, args.batched):
            _, cond, data = _inputs(res, batch, frames)
            cond, data = cond.to(device), data.to(device)
            for steps in (1, 2, 4):
                noise = torch.randn_like(data)
                took = _timed(lambda: flow.sample(model, noise, cond, steps), 2)
                fps = batch * frames / took
                rows.append({"resolution": res, "batch_windows": batch, "steps": steps, "model_fps": fps,
                             "reference_fps": ref, "ratio_model_over_reference": fps / ref,
                             "seconds_per_minute_of_24fps_video": 24 * 60 / fps})
        opt = torch.optim.AdamW(model.parameters(), 1e-4)
        _, cond, data = _inputs(res, 8, frames)

        def step():
            loss = flow.loss(model, data.to(device), cond.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()

        took = _timed(step, 2)
        rows.append({"resolution": res, "training_clips_per_s": 8 / took, "training_frames_per_s": 8 * frames / took})
        model.eval()
    print(f"device {args.device} ({platform.machine()}, {torch.get_num_threads()} threads), window {frames} frames")
    print(f"{'res':>5} {'batch':>6} {'steps':>6} {'model f/s':>10} {'ref f/s':>9} {'ratio':>7} {'s per video-min':>16}")
    for r in rows:
        if "model_fps" in r:
            print(f"{r['resolution']:>5} {r['batch_windows']:>6} {r['steps']:>6} {r['model_fps']:>10.1f} "
                  f"{r['reference_fps']:>9.1f} {r['ratio_model_over_reference']:>7.2f} "
                  f"{r['seconds_per_minute_of_24fps_video']:>16.1f}")
    for r in rows:
        if "training_clips_per_s" in r:
            print(f"training {r['resolution']}x{r['resolution']}: {r['training_frames_per_s']:.1f} frames/s "
                  f"({r['training_clips_per_s']:.2f} clips/s, batch 8)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "renderer.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
