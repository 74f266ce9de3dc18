"""What the mirror input (pbr channels 19–22) adds to the condition tensors per frame, measured side by side.

Run: ``python benchmarks/mirror_cost.py [--resolutions 64 128 256 512] [--repeats 3]``.

On ``benchmarks/renderer.py``'s scene (a held-out random scene, the raster map pass), one window of
frames per resolution: the condition tensors built with 18 pbr channels (the inputs before change
23) and with 22 (:func:`worldsim.conditioning.screen_reflection.mirror_radiance` marched as well),
alternating, the median of ``repeats`` each, in ms per frame. The march's cost grows with the
glossy pixels a frame holds, so a scene with more of them pays more. Writes
``benchmarks/results/mirror_cost.json`` and ``mirror_cost.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks.report

from benchmarks.renderer import SCENE_SEED  # noqa: E402
from benchmarks.report import device_line, write_report  # noqa: E402

CHANNELS = (18, 22)  # without and with the mirror


def _window(res: int, frames: int) -> dict:
    """The condition arrays of ``frames`` frames of the benchmark scene at ``res``², with a batch axis."""
    from worldsim.conditioning.arrays import from_frames
    from worldsim.physics import PhysicsWorld
    from worldsim.recording import default_map_pass, draw_frame
    from worldsim.templates import random_scene

    spec = random_scene(SCENE_SEED, res, frames, look="cycles")
    with PhysicsWorld(spec, seed=0) as world:
        drawn = []
        for _ in range(frames):
            drawn.append(draw_frame(world, None, None, default_map_pass("cycles"), lit=False))
            world.step_frames(1)
    return {k: v[None] for k, v in from_frames(spec, drawn).items()}


def measure(resolutions: list[int], frames: int = 8, repeats: int = 3) -> list[dict]:
    """One row per resolution: ms per frame of the condition tensors with 18 and with 22 pbr channels."""
    from worldsim.conditioning.tensors import build_conditions

    rows = []
    for res in resolutions:
        window = _window(res, frames)
        times = {n: [] for n in CHANNELS}
        for _ in range(repeats + 1):  # the first round warms up
            for n in CHANNELS:
                start = time.perf_counter()
                build_conditions(window, pbr_channels=n)
                times[n].append(time.perf_counter() - start)
        without, with_mirror = (1e3 * statistics.median(times[n][1:]) / frames for n in CHANNELS)
        rows.append({"resolution": res, "conditions_ms_18": without, "conditions_ms_22": with_mirror,
                     "mirror_ms": with_mirror - without})
    return rows


def markdown(rows: list[dict], device: str) -> str:
    lines = [f"Condition tensors per frame, {device}", "",
             "| resolution | 18 pbr channels (ms/frame) | 22, with the mirror (ms/frame) | the mirror (ms/frame) |",
             "|---|---|---|---|"]
    lines += [f"| {r['resolution']}² | {r['conditions_ms_18']:.1f} | {r['conditions_ms_22']:.1f} | {r['mirror_ms']:+.1f} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    rows = measure(args.resolutions, args.frames, args.repeats)
    device = device_line("cpu")
    report = markdown(rows, device)
    write_report(args.out, "mirror_cost", device, rows, report)
    return rows


if __name__ == "__main__":
    main()
