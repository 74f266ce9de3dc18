"""Counterfactual experiments: sweep one physical parameter, simulate each variant, compare outcomes.

>>> from worldsim.experiments import sweep
>>> from worldsim.scene.assets import SCENES_DIR
>>> from worldsim import load_scene
>>> result = sweep(load_scene(SCENES_DIR / "incline_slide.yaml"), "bodies[block].friction", [0.0, 2.0],
...                outcomes=["travel:block"], seconds=0.5, render=None)
>>> result.table[0]["travel:block"] > result.table[1]["travel:block"]  # less friction, further slide
True

Every variant uses the same seed, so the parameter is the only thing that changes. An outcome is
``METRIC:BODY`` with METRIC one of :data:`METRICS` (evaluated on the recorded state arrays).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from worldsim.errors import WorldsimError
from worldsim.scene import SceneSpec, sample, with_values


def _tilt_deg(q: np.ndarray) -> np.ndarray:
    """Angle (degrees) between each body's local z axis and world z, from xyzw quaternions."""
    x, y = q[..., 0], q[..., 1]
    cos = 1 - 2 * (x**2 + y**2)  # z component of the rotated z axis
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


# name -> (what it means, f(state arrays, body index) -> float)
METRICS: dict[str, tuple[str, Callable[[dict, int], float]]] = {
    "travel": ("distance (m) between start and end position",
               lambda s, i: float(np.linalg.norm(s["positions"][-1, i] - s["positions"][0, i]))),
    "final_x": ("x (m) at the end", lambda s, i: float(s["positions"][-1, i, 0])),
    "final_y": ("y (m) at the end", lambda s, i: float(s["positions"][-1, i, 1])),
    "final_z": ("height (m) at the end", lambda s, i: float(s["positions"][-1, i, 2])),
    "max_z": ("highest point (m)", lambda s, i: float(s["positions"][:, i, 2].max())),
    "final_speed": ("speed (m/s) at the end", lambda s, i: float(np.linalg.norm(s["velocities"][-1, i]))),
    "tilt": ("tilt (degrees) from upright at the end", lambda s, i: float(_tilt_deg(s["quaternions"][-1, i]))),
    "toppled": ("1 if it ends tilted more than 45 degrees, else 0", lambda s, i: float(_tilt_deg(s["quaternions"][-1, i]) > 45)),
}


@dataclass
class SweepResult:
    """One row per parameter value: the value, every outcome, and the rendered clip if any."""

    parameter: str
    values: list[Any]
    outcomes: list[str]
    table: list[dict[str, Any]] = field(default_factory=list)
    clips: list[np.ndarray] = field(default_factory=list)

    def markdown(self) -> str:
        """The table in Markdown."""
        head = f"| {self.parameter} | " + " | ".join(self.outcomes) + " |"
        rule = "|---" * (len(self.outcomes) + 1) + "|"
        rows = [f"| {row['value']} | " + " | ".join(f"{row[o]:.4g}" for o in self.outcomes) + " |" for row in self.table]
        return "\n".join([head, rule, *rows])


def _parse_outcome(spec: SceneSpec, outcome: str) -> tuple[Callable, int]:
    metric, _, body = outcome.partition(":")
    if metric not in METRICS:
        raise WorldsimError(f"outcome {outcome!r}: unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    names = [b.name for b in spec.bodies]
    if body not in names:
        raise WorldsimError(f"outcome {outcome!r}: no body named {body!r}; bodies are {', '.join(names)}")
    return METRICS[metric][1], names.index(body)


def sweep(spec: SceneSpec, parameter: str, values: Sequence[Any], outcomes: Sequence[str], seed: int = 0,
          seconds: float | None = None, render: str | None = "reference", resolution: int = 96,
          progress: bool = False) -> SweepResult:
    """Simulate ``spec`` once per value of ``parameter`` and measure ``outcomes``.

    Args:
        spec: the scene (its ``randomize`` section is drawn once with ``seed``, then the parameter set).
        parameter: a field path, e.g. ``bodies[block].friction`` or ``bodies[ball].linear_velocity``.
        values: the values to try.
        outcomes: ``METRIC:BODY`` strings (see :data:`METRICS`).
        seed: one seed for every variant.
        seconds: simulated time (default: the scene's duration).
        render: ``"reference"`` (TinyRenderer), ``"learned"`` (the default checkpoint) or None.
        resolution: side of the rendered clips (the learned renderer draws at its own 64²).
    """
    from worldsim.recording import rollout

    base = sample(spec, seed)
    frames = int(round((seconds or base.sim.duration) * base.sim.fps)) + 1
    parsed = {o: _parse_outcome(base, o) for o in outcomes}
    result = SweepResult(parameter, list(values), list(outcomes))
    renderer = None
    if render == "learned":
        from worldsim.render import Renderer

        renderer = Renderer()
    items = values
    if progress:
        from tqdm import tqdm

        items = tqdm(values, desc="sweep", unit="variant")
    size = renderer.resolution if renderer else resolution
    for value in items:
        variant = with_values(base, {parameter: value})
        rec = rollout(variant, seed=seed, frames=frames, resolution=(size, size), render=render is not None,
                      map_pass=renderer.map_pass if renderer else None)
        state = rec.state_arrays()
        result.table.append({"value": value, **{o: fn(state, i) for o, (fn, i) in parsed.items()}})
        if renderer is not None:  # the same rollout's frames feed the learned renderer
            result.clips.append(renderer.render(variant, rec.frames, seed=seed))
        elif render is not None:
            result.clips.append(rec.map_arrays()["rgb"])
    return result


def save_sweep(result: SweepResult, out: str | Path, fps: float = 24.0) -> list[Path]:
    """Write ``sweep.json``, ``sweep.md``, ``sweep.png`` (each outcome against the parameter) and
    ``clips.mp4`` (the variants side by side, left to right in sweep order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from worldsim.io import write_atomic
    from worldsim.video import write_mp4

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "sweep.json", out / "sweep.md", out / "sweep.png"]
    write_atomic(paths[0], json.dumps({"parameter": result.parameter, "rows": result.table}, indent=2, default=float))
    write_atomic(paths[1], result.markdown() + "\n")
    fig, axes = plt.subplots(1, len(result.outcomes), figsize=(4.2 * len(result.outcomes), 3.2), squeeze=False)
    numeric = all(isinstance(v, (int, float)) for v in result.values)
    xs = result.values if numeric else list(range(len(result.values)))
    for ax, outcome in zip(axes[0], result.outcomes, strict=True):
        ax.plot(xs, [row[outcome] for row in result.table], marker="o")
        ax.set(xlabel=result.parameter, ylabel=outcome, title=METRICS[outcome.split(":")[0]][0][:40])
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in result.values], rotation=20, fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(paths[2], dpi=110)
    plt.close(fig)
    if result.clips:
        length = min(len(c) for c in result.clips)
        write_mp4(out / "clips.mp4", np.concatenate([c[:length] for c in result.clips], axis=2), fps=fps)
        paths.append(out / "clips.mp4")
    return paths
