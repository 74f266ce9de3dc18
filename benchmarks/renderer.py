"""The learned renderer's frames/s beside Cycles', at every resolution, measured in one run.

Run: ``python benchmarks/renderer.py [--checkpoint default] [--device cpu] [--resolutions 64 128 256 512]``.

For each square resolution, on one scene (a held-out random scene with about ten bodies):

- the **map pass**: the maps of the frame from the pass the checkpoint reads (``Renderer.map_pass``:
  the compiled raster pass for the Cycles look, TinyRenderer's for the raster look), the shadow-map
  light visibility and the condition arrays, per frame;
- the **learned** renderer at 1, 2 and 4 sampling steps, one window of frames per call (batch 1);
  its frames/s *include* the map pass, since a user pays for both;
- **Cycles** at the dataset's settings (32 samples, denoised, every core), frames/s;
- the ratio learned / Cycles.

One checkpoint serves every resolution (the model is resolution-free). Writes
``benchmarks/results/renderer.json`` and ``renderer.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from worldsim.conditioning.arrays import from_frames
from worldsim.physics import PhysicsWorld
from worldsim.recording import draw_frame
from worldsim.render import Renderer
from worldsim.templates import random_scene

SCENE_SEED = 10**9 + 7


def _timed(fn, repeats: int) -> float:
    """Seconds per call of ``fn`` after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _cycles_fps(world, res: int, frames: int) -> float | None:
    try:
        from worldsim.teacher.cycles import CyclesOptions, CyclesTeacher, check_bpy

        check_bpy()
    except Exception:  # noqa: BLE001 - no bpy: no Cycles column
        return None
    teacher = CyclesTeacher(world, None, (res, res), CyclesOptions(samples=32, denoise=True, threads=os.cpu_count() or 1))
    try:
        return frames / _timed(lambda: [teacher.render(world) for _ in range(frames)], 1)
    finally:
        teacher.close()


def measure(renderer: Renderer, resolutions: list[int], steps: list[int], cycles_frames: int = 1,
            repeats: int = 2) -> list[dict]:
    """One row per resolution and step count."""
    rows = []
    window = renderer.window
    for res in resolutions:
        spec = random_scene(SCENE_SEED, res, window, look="cycles")
        with PhysicsWorld(spec, seed=0) as world:
            def maps():
                return draw_frame(world, None, None, renderer.map_pass, lit=False)

            frames = [maps()]
            for _ in range(window - 1):
                world.step_frames(1)
                frames.append(maps())
            map_s = _timed(lambda: from_frames(spec, [maps() for _ in range(window)]), repeats)
            conds = {k: v[None] for k, v in from_frames(spec, frames).items()}
            # the model before Cycles: timed right after a Cycles render, one 256² step once measured
            # 252 ms against 168 for two (Blender's threads and memory still settling)
            model_s = {}
            for n in steps:
                renderer.steps = n
                model_s[n] = _timed(lambda: renderer.render_window(conds, seed=0), repeats)
            cycles = _cycles_fps(world, res, cycles_frames)
        for n in steps:
            fps = window / (map_s + model_s[n])
            rows.append({"resolution": res, "steps": n, "map_pass_ms_per_frame": 1e3 * map_s / window,
                         "model_ms_per_frame": 1e3 * model_s[n] / window, "learned_fps": fps, "cycles_fps": cycles,
                         "learned_over_cycles": fps / cycles if cycles else None})
    return rows


def markdown(rows: list[dict], device: str) -> str:
    """The rows as a markdown table."""
    lines = [f"Device: {device}", "",
             "| resolution | steps | map pass (ms/frame) | model (ms/frame) | learned frames/s | Cycles frames/s "
             "| learned / Cycles |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cyc = f"{r['cycles_fps']:.3f}" if r["cycles_fps"] else "n/a"
        ratio = f"{r['learned_over_cycles']:.1f}×" if r["learned_over_cycles"] else "n/a"
        lines.append(f"| {r['resolution']}² | {r['steps']} | {r['map_pass_ms_per_frame']:.1f} | {r['model_ms_per_frame']:.1f} | "
                     f"{r['learned_fps']:.2f} | {cyc} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the shipped default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cycles-frames", type=int, default=1, help="Cycles frames timed per resolution (default 1)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    renderer = Renderer(args.checkpoint, device=args.device)
    rows = measure(renderer, args.resolutions, args.steps, args.cycles_frames)
    device = (f"{args.device} ({platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads)")
    table = markdown(rows, device)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "renderer.json").write_text(json.dumps({"device": device, "rows": rows}, indent=2))
    (args.out / "renderer.md").write_text(table + "\n")
    return rows


if __name__ == "__main__":
    main()
