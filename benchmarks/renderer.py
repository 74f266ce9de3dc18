"""The learned renderer's frames/s beside Cycles', at every resolution, measured in one run.

Run: ``python benchmarks/renderer.py [--checkpoint default] [--device cpu] [--resolutions 64 128 256 512]``.

For each square resolution, on one scene (a held-out random scene with about ten bodies):

- the **map pass**: the maps of the frame from the pass the checkpoint reads (``Renderer.map_pass``:
  the compiled raster pass for the Cycles look, TinyRenderer's for the raster look), the shadow-map
  light visibility and the condition arrays, per frame;
- the **learned** renderer at 1, 2 and 4 sampling steps, one window of frames per call (batch 1),
  in fp32 and in bf16 autocast (``--precision``: a CPU with native bf16, e.g. AVX512-BF16 or AMX,
  runs the matrix products about 1.3× faster, frames within 2 levels of fp32's); its frames/s
  *include* the map pass, since a user pays for both;
- **Cycles** at the dataset's settings (32 samples, denoised, every core), frames/s;
- the ratio learned / Cycles.

One checkpoint serves every resolution (the model is resolution-free). Writes
``benchmarks/results/renderer.json`` and ``renderer.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks.report

from benchmarks.report import device_line, write_report  # noqa: E402
from worldsim.conditioning.arrays import from_frames  # noqa: E402
from worldsim.physics import PhysicsWorld  # noqa: E402
from worldsim.recording import draw_frame  # noqa: E402
from worldsim.render import Renderer  # noqa: E402
from worldsim.templates import random_scene  # noqa: E402

SCENE_SEED = 10**9 + 7


def _timed(fn, repeats: int) -> float:
    """Seconds per call of ``fn``: the median of ``repeats`` calls after one warm-up call (a median,
    not a mean: one call slowed by another process should not move the figure)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


def _learned(renderer: Renderer, world: PhysicsWorld, spec, steps: list[int], repeats: int,
             precisions: tuple[str, ...]) -> tuple[float, dict]:
    """Seconds per window of the map pass, and of the model per (steps, precision)."""
    window = renderer.window

    def maps():
        return draw_frame(world, None, None, renderer.map_pass, lit=False)

    frames = [maps()]
    for _ in range(window - 1):
        world.step_frames(1)
        frames.append(maps())
    map_s = _timed(lambda: from_frames(spec, [maps() for _ in range(window)]), repeats)
    conds = {k: v[None] for k, v in from_frames(spec, frames).items()}
    model_s = {}
    for n in steps:
        for precision in precisions:
            renderer.steps, renderer.precision = n, precision
            model_s[n, precision] = _timed(lambda: renderer.render_window(conds, seed=0), repeats)
    return map_s, model_s


def measure(renderer: Renderer, resolutions: list[int], steps: list[int], cycles_frames: int = 1,
            repeats: int = 3, precisions: tuple[str, ...] = ("fp32",)) -> list[dict]:
    """One row per resolution, step count and precision.

    Every learned timing comes before the first Cycles render: a model step timed right after one
    measured 252 ms against 168 (Blender's threads and memory still settling), so timing them
    interleaved, resolution by resolution, slowed the learned column by up to a quarter at random.
    """
    window = renderer.window
    specs = {res: random_scene(SCENE_SEED, res, window, look="cycles") for res in resolutions}
    learned = {}
    for res, spec in specs.items():
        with PhysicsWorld(spec, seed=0) as world:
            learned[res] = _learned(renderer, world, spec, steps, repeats, precisions)
    rows = []
    for res, spec in specs.items():
        with PhysicsWorld(spec, seed=0) as world:
            world.step_frames(window - 1)  # the state the learned renderer's last frame showed
            cycles = _cycles_fps(world, res, cycles_frames)
        map_s, model_s = learned[res]
        for (n, precision), seconds in model_s.items():
            fps = window / (map_s + seconds)
            rows.append({"resolution": res, "steps": n, "precision": precision,
                         "map_pass_ms_per_frame": 1e3 * map_s / window, "model_ms_per_frame": 1e3 * seconds / window,
                         "learned_fps": fps, "cycles_fps": cycles, "learned_over_cycles": fps / cycles if cycles else None})
    return rows


def markdown(rows: list[dict], device: str) -> str:
    """The rows as a markdown table."""
    lines = [f"Device: {device}", "",
             "| resolution | steps | precision | map pass (ms/frame) | model (ms/frame) | learned frames/s "
             "| Cycles frames/s | learned / Cycles |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cyc = f"{r['cycles_fps']:.3f}" if r["cycles_fps"] else "n/a"
        ratio = f"{r['learned_over_cycles']:.1f}×" if r["learned_over_cycles"] else "n/a"
        lines.append(f"| {r['resolution']}² | {r['steps']} | {r['precision']} | {r['map_pass_ms_per_frame']:.1f} "
                     f"| {r['model_ms_per_frame']:.1f} | {r['learned_fps']:.2f} | {cyc} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the shipped default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"],
                        help="model precisions to time, side by side (default: both)")
    parser.add_argument("--cycles-frames", type=int, default=1, help="Cycles frames timed per resolution (default 1)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    renderer = Renderer(args.checkpoint, device=args.device)
    rows = measure(renderer, args.resolutions, args.steps, args.cycles_frames, precisions=tuple(args.precision))
    device = device_line(renderer.device)
    write_report(args.out, "renderer", device, rows, markdown(rows, device))
    return rows


if __name__ == "__main__":
    main()
