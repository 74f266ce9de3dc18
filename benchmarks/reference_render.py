"""Reference-renderer throughput: frames/s of TinyRenderer (lit RGB + albedo + maps) and raw physics.

Run: ``python benchmarks/reference_render.py [--scene scenes/billiards_break.yaml] [--frames 48]``.
Prints a table and writes ``benchmarks/results/reference_render.json``. All rows are measured in
the same run, so their ratios hold on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene
from worldsim.teacher.tiny import render_frame


def measure(scene: Path, frames: int) -> list[dict]:
    spec = load_scene(scene)
    rows = []
    with PhysicsWorld(spec) as world:
        start = time.perf_counter()
        world.step_frames(frames)
        took = time.perf_counter() - start
        rows.append({"what": "physics only", "resolution": "-", "fps": frames / took})
        for res in (64, 128):
            for passes, label in (("rgb", "lit RGB + maps"), ("all", "lit RGB + albedo + maps")):
                start = time.perf_counter()
                for _ in range(frames):
                    world.step_frames(1)
                    render_frame(world, resolution=(res, res), passes=passes)
                took = time.perf_counter() - start
                rows.append({"what": f"physics + {label}", "resolution": f"{res}x{res}", "fps": frames / took})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", type=Path, default=Path(__file__).parents[1] / "scenes" / "billiards_break.yaml")
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    rows = measure(args.scene, args.frames)
    print(f"scene {args.scene.name}, {args.frames} frames, {platform.processor() or platform.machine()}")
    print(f"{'what':<34} {'res':>9} {'frames/s':>10}")
    for r in rows:
        print(f"{r['what']:<34} {r['resolution']:>9} {r['fps']:>10.1f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "reference_render.json").write_text(json.dumps({"scene": args.scene.name, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
