"""The trade the Cycles look offers: path-traced frames vs the learned renderer's, in one run.

Run: ``python benchmarks/path_traced.py [--checkpoint cycles] [--clips 3] [--frames 16] [--samples 32]``
(needs ``bpy``; the file is not named cycles.py, which would shadow Blender's own ``cycles`` add-on).
For held-out random scenes (template seeds from 10^9, never trained on) it renders
every frame with Cycles (the teacher's settings: ``--samples`` per pixel, denoised, every core),
with TinyRenderer, and with the learned Cycles-look renderer, at 64² and 128², and reports frames/s
of each, the learned/Cycles speed ratio, and the learned frames' PSNR/SSIM against Cycles.
Cycles' per-clip scene build is timed apart from its per-frame cost. The checkpoint is 64²; the
128² row times the same architecture at 128² with untrained weights (speed does not depend on the
weights), so it has no quality figures. Writes ``benchmarks/results/cycles.json`` and the
side-by-side clips (TinyRenderer | Cycles | learned) as ``benchmarks/results/cycles/side_by_side.{mp4,png}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from worldsim.dataset import clip_arrays
from worldsim.evaluate import HELD_OUT_SEED
from worldsim.metrics import psnr, ssim
from worldsim.model import WorldDiT
from worldsim.physics import PhysicsWorld
from worldsim.render import Renderer
from worldsim.teacher.cycles import CyclesOptions, CyclesTeacher
from worldsim.teacher.tiny import render_frame
from worldsim.templates import random_scene

OUT = Path(__file__).resolve().parent / "results"


def _path_traced(spec, seed: int, frames: int, res: int, options: CyclesOptions) -> tuple[np.ndarray, float, float]:
    """Cycles frames of a clip, the scene-build seconds, and the seconds per frame."""
    out = []
    with PhysicsWorld(spec, seed=seed) as world:
        start = time.perf_counter()
        teacher = CyclesTeacher(world, resolution=(res, res), options=options)
        build = time.perf_counter() - start
        start = time.perf_counter()
        for k in range(frames):
            if k:
                world.step_frames(1)
            out.append(teacher.render(world))
        per_frame = (time.perf_counter() - start) / frames
        teacher.close()
    return np.stack(out), build, per_frame


def _tiny_seconds_per_frame(spec, seed: int, frames: int, res: int) -> float:
    with PhysicsWorld(spec, seed=seed) as world:
        start = time.perf_counter()
        for k in range(frames):
            if k:
                world.step_frames(1)
            render_frame(world, resolution=(res, res), passes="rgb", visibility=False)
        return (time.perf_counter() - start) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="cycles")
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4, help="learned renderer's sampling steps")
    args = parser.parse_args()
    options = CyclesOptions(samples=args.samples)
    trained = Renderer(args.checkpoint, steps=args.steps)
    rows, videos = [], []
    for res in (64, 128):
        if res == trained.resolution:
            renderer = trained
        else:  # timing only: the same architecture at this resolution
            cfg = type(trained.model.config)(**{**vars(trained.model.config), "resolution": res})
            renderer = Renderer.from_model(WorldDiT(cfg).eval(), steps=args.steps)
        cyc_s, build_s, tiny_s, model_s, scores = [], [], [], [], []
        for i in range(args.clips):
            seed = HELD_OUT_SEED + 500 + i
            spec = random_scene(seed, res, args.frames, look="cycles")
            clip = clip_arrays(spec, seed, args.frames)  # maps and conditions (TinyRenderer pass)
            cycles, build, per_frame = _path_traced(spec, seed, args.frames, res, options)
            cyc_s.append(per_frame)
            build_s.append(build)
            tiny_s.append(_tiny_seconds_per_frame(spec, seed, args.frames, res))
            if i == 0:
                renderer.render_clip(clip, seed=i)  # warm-up
            start = time.perf_counter()
            learned = renderer.render_clip(clip, seed=i)
            model_s.append((time.perf_counter() - start) / args.frames)
            if res == trained.resolution:
                scores.append((np.mean([psnr(a, b) for a, b in zip(learned, cycles, strict=True)]),
                               np.mean([ssim(a, b) for a, b in zip(learned, cycles, strict=True)])))
                videos.append(np.concatenate([clip["rgb"], cycles, learned], axis=2))
        row = {"resolution": res, "cycles_frames_per_s": 1 / np.mean(cyc_s),
               "cycles_scene_build_s": float(np.mean(build_s)),
               "tinyrenderer_frames_per_s": 1 / np.mean(tiny_s), "learned_frames_per_s": 1 / np.mean(model_s),
               "learned_over_cycles": float(np.mean(cyc_s) / np.mean(model_s)), "trained_weights": res == trained.resolution}
        if scores:
            row["psnr_vs_cycles"] = float(np.mean([s[0] for s in scores]))
            row["ssim_vs_cycles"] = float(np.mean([s[1] for s in scores]))
        rows.append(row)
    print(f"{'res':>5} {'Cycles f/s':>11} {'build s':>8} {'Tiny f/s':>9} {'learned f/s':>12} {'ratio':>7} "
          f"{'PSNR':>7} {'SSIM':>6}")
    for r in rows:
        print(f"{r['resolution']:>5} {r['cycles_frames_per_s']:>11.2f} {r['cycles_scene_build_s']:>8.2f} "
              f"{r['tinyrenderer_frames_per_s']:>9.1f} {r['learned_frames_per_s']:>12.1f} {r['learned_over_cycles']:>6.1f}x "
              f"{r.get('psnr_vs_cycles', float('nan')):>7.2f} {r.get('ssim_vs_cycles', float('nan')):>6.3f}")
    (OUT / "cycles").mkdir(parents=True, exist_ok=True)
    from worldsim.video import write_mp4

    video = np.concatenate(videos, axis=0)
    write_mp4(OUT / "cycles" / "side_by_side.mp4", video, fps=12, upscale=3)
    import imageio.v3 as iio

    strip = np.concatenate([v[len(v) // 2] for v in videos], axis=0)  # the middle frame of each clip
    iio.imwrite(OUT / "cycles" / "side_by_side.png", np.kron(strip, np.ones((3, 3, 1), np.uint8)))
    report = {"rows": rows, "clips": args.clips, "frames": args.frames, "samples": args.samples, "steps": args.steps,
              "checkpoint": args.checkpoint, "machine": platform.machine(), "threads": torch.get_num_threads()}
    (OUT / "cycles.json").write_text(json.dumps(report, indent=2))
    print(f"-> {OUT / 'cycles.json'}, {OUT / 'cycles' / 'side_by_side.mp4'}")


if __name__ == "__main__":
    main()
