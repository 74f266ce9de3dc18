"""How costs grow: with the number of bodies, the resolution and the clip length (one run).

Run: ``python benchmarks/scaling.py``. Three small tables, each varying one axis from the same base
(a pile of boxes falling on a checker floor, 64², the shipped model at 2 sampling steps; other
resolutions use the same architecture untrained, which costs the same):

* bodies 1, 4, 8, 15: physics frames/s, reference renderer frames/s (all maps), model frames/s;
* resolution 32², 64², 128²: reference and model frames/s;
* clip length 4, 16, 64 frames: seconds to simulate + draw maps, and to render with the model.

Writes ``benchmarks/results/scaling.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from worldsim import PhysicsWorld, Renderer, render_frame, scene_from_dict
from worldsim.dataset import clip_arrays
from worldsim.model import WorldDiT


def pile(n: int, frames: int = 24) -> object:
    rng = np.random.default_rng(n)
    bodies = [{"name": "floor", "type": "plane", "texture": {"checker": 8}}]
    for i in range(n):
        bodies.append({"name": f"b{i}", "type": "box", "size": [0.15, 0.15, 0.15], "mass": 0.5,
                       "position": [float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3)), 0.2 + 0.2 * i],
                       "color": rng.uniform(0.2, 0.9, 3).round(2).tolist()})
    return scene_from_dict({"sim": {"duration": frames / 24}, "bodies": bodies,
                            "cameras": [{"position": [1.6, -1.6, 1.4], "target": [0, 0, 0.3], "fov_deg": 50}]})


def per_second(fn, count: int, repeats: int = 2) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return count * repeats / (time.perf_counter() - start)


def model_fps(renderer: Renderer, res: int, frames: int = 4) -> float:
    clip = clip_arrays(pile(4, frames), 0, frames, res)
    batch = {k: v[None] for k, v in clip.items()}
    if res == renderer.resolution:
        return per_second(lambda: renderer.render_window(batch, seed=0), frames)
    config = type(renderer.model.config)(**{**vars(renderer.model.config), "resolution": res})
    other = Renderer.from_model(WorldDiT(config), str(renderer.device), renderer.steps, renderer.precision)
    return per_second(lambda: other.render_window(batch, seed=0), frames)


def main() -> None:
    renderer = Renderer(steps=2)
    res = renderer.resolution
    out: dict[str, list] = {"bodies": [], "resolution": [], "clip_length": []}
    for n in (1, 4, 8, 15):
        spec = pile(n)
        with PhysicsWorld(spec) as world:
            physics = per_second(lambda: world.step_frames(1), 1, 48)
            maps = per_second(lambda: render_frame(world, resolution=(res, res)), 1, 12)
        clip = clip_arrays(spec, 0, 4, res)
        model = per_second(lambda: renderer.render_window({k: v[None] for k, v in clip.items()}, seed=0), 4)
        out["bodies"].append({"bodies": n, "physics_fps": physics, "reference_fps": maps, "model_fps": model})
    for r in (32, 64, 128):
        with PhysicsWorld(pile(4)) as world:
            maps = per_second(lambda: render_frame(world, resolution=(r, r)), 1, 8)
        out["resolution"].append({"resolution": r, "reference_fps": maps, "model_fps": model_fps(renderer, r)})
    for frames in (4, 16, 64):
        spec = pile(4, frames)
        start = time.perf_counter()
        clip = clip_arrays(spec, 0, frames, res)
        simulate = time.perf_counter() - start
        start = time.perf_counter()
        renderer.render_clip(clip)
        out["clip_length"].append({"frames": frames, "simulate_and_maps_s": simulate, "model_s": time.perf_counter() - start})

    print(f"device cpu, {torch.get_num_threads()} threads, model {res}x{res} at 2 steps")
    print(f"{'bodies':>7}{'physics f/s':>13}{'reference f/s':>15}{'model f/s':>11}")
    for row in out["bodies"]:
        print(f"{row['bodies']:>7}{row['physics_fps']:>13.0f}{row['reference_fps']:>15.1f}{row['model_fps']:>11.1f}")
    print(f"{'res':>7}{'reference f/s':>15}{'model f/s':>11}")
    for row in out["resolution"]:
        print(f"{row['resolution']:>7}{row['reference_fps']:>15.1f}{row['model_fps']:>11.1f}")
    print(f"{'frames':>7}{'sim+maps s':>12}{'model s':>9}")
    for row in out["clip_length"]:
        print(f"{row['frames']:>7}{row['simulate_and_maps_s']:>12.2f}{row['model_s']:>9.2f}")
    path = Path(__file__).parent / "results" / "scaling.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
