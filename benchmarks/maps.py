"""The map pass per view: TinyRenderer's against the compiled rasterizer's, side by side in one run.

Run: ``python benchmarks/maps.py [--scene scenes/tasks/panda_push.yaml] [--resolution 64]``.
Rows (milliseconds per view, best of 7 repeats): TinyRenderer's lit pass (what ``rgb_reference``
costs), its unlit map pass, and the map pass with the shadow-map light visibility (what ``rgb``
needs); then :func:`worldsim.teacher.maps.render_maps` without and with the visibility, one view
per call and eight per call. One thread, as an env process runs.
"""

from __future__ import annotations

import argparse
import time

import torch

from worldsim.physics import PhysicsWorld
from worldsim.physics.decimate import visual_faces_for
from worldsim.scene import load_scene
from worldsim.teacher.maps import render_maps
from worldsim.teacher.scene_mesh import scene_mesh
from worldsim.teacher.tiny import render_frame


def _best_ms(fn, per_call: int = 1, calls: int = 5, repeats: int = 7) -> float:
    fn()  # warm-up (compiles the rasterizer on a first run)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls / per_call * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="scenes/tasks/panda_push.yaml")
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = load_scene(args.scene)
    size = (args.resolution, args.resolution)
    with PhysicsWorld(spec, visual_faces=visual_faces_for(args.resolution)) as world:
        world.step_frames(5)
        cam, mesh = spec.camera(None), scene_mesh(world)
        rows = {
            "TinyRenderer lit (rgb_reference)": _best_ms(lambda: render_frame(world, cam, size, passes="rgb", visibility=False)),
            "TinyRenderer maps": _best_ms(lambda: render_frame(world, cam, size, passes="maps", visibility=False)),
            "TinyRenderer maps + visibility": _best_ms(lambda: render_frame(world, cam, size, passes="maps")),
        }
        for n in (1, 8):
            views = [(mesh, cam)] * n
            rows[f"compiled maps, {n} per call"] = _best_ms(lambda v=views: render_maps(v, size, visibility=False), n)
            rows[f"compiled maps + visibility, {n} per call"] = _best_ms(lambda v=views: render_maps(v, size), n)
    print(f"{args.scene} at {args.resolution}²: ms per view")
    for label, ms in rows.items():
        print(f"  {label:45s} {ms:7.2f}")


if __name__ == "__main__":
    main()
