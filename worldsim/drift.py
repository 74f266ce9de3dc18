"""The long-horizon experiment: the physics-conditioned renderer against a pure-video model.

Both start from the same real frames of a held-out scene and roll out autoregressively (each window
conditioned on their own previous frames). The hybrid also sees the physics maps of every frame;
the pure-video model sees only its own past. Metrics are computed on the first ``h`` frames for
every horizon ``h`` (one rollout of the longest horizon: an autoregressive rollout's prefix is the
shorter rollout). Outputs: ``drift.json``, ``drift.md``, ``drift.png`` (each metric against the
frame index, both models) and ``side_by_side.mp4`` (reference | hybrid | pure video) of the first scene.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from worldsim.evaluate import HELD_OUT_SEED, floor_bodies, reference_clip
from worldsim.io import write_atomic
from worldsim.metrics import clip_metrics
from worldsim.render import Renderer
from worldsim.templates import random_scene

SUMMARY_KEYS = ("iou", "psnr_objects", "psnr", "colour_drift", "flicker")
LABELS = {"iou": "foreground IoU vs physics", "psnr_objects": "object-region PSNR (dB)", "psnr": "PSNR (dB)",
          "colour_drift": "per-object colour drift (0-255)", "flicker": "temporal flicker (VBench, 1 = none)"}


def _rollouts(models: dict[str, Renderer], spec, recs: dict, start: int, seed: int) -> dict[str, np.ndarray]:
    """Every model's frames for the frames ``start:`` of the recording of its map pass (``recs``), each
    given the real frames before ``start``."""
    out = {}
    for name, r in models.items():
        frames = recs[r.map_pass].frames
        out[name] = r.render(spec, frames[start:], seed=seed, start=np.stack([f.rgb for f in frames[:start]]))
    return out


def run_drift(models: dict[str, Renderer], out: str | Path, horizons: tuple[int, ...] = (16, 64, 256, 1024),
              clips: int = 2, seed: int = 0, progress: bool = True) -> dict:
    """Roll every model out on ``clips`` held-out scenes and measure each horizon.

    Args:
        models: name → renderer, e.g. ``{"hybrid": Renderer(), "pure-video": Renderer("runs/pure/...")}``.
        out: output directory.
        horizons: frame counts to report (the longest is rolled out).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = max(r.model.config.context_frames for r in models.values())
    longest = max(horizons)
    res = {r.resolution for r in models.values()}
    if len(res) != 1:
        raise ValueError(f"models render at different resolutions: {sorted(res)}")
    res = res.pop()
    per_clip, curves, t0 = [], {name: [] for name in models}, time.perf_counter()
    iterator = range(clips)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="drift", unit="scene")
    for i in iterator:
        scene_seed = HELD_OUT_SEED + 500_000 + seed * 1000 + i
        spec = random_scene(scene_seed, res, start + longest)
        passes = sorted({r.map_pass for r in models.values()}, reverse=True)  # "tiny" first when asked for
        recs = {p: reference_clip(spec, scene_seed, start + longest, res, "tiny", map_pass=p) for p in passes}
        frames = _rollouts(models, spec, recs, start, seed + i)
        rec = recs[passes[0]]  # TinyRenderer's picture is the reference; its own maps score it where a model reads them
        maps = rec.map_arrays()
        ref, albedo, seg = (maps[k][start:] for k in ("rgb", "albedo", "segmentation"))
        row = {"scene_seed": scene_seed, "horizons": {}}
        floors = floor_bodies(spec)
        for name, video in frames.items():
            metrics = {h: clip_metrics(video[:h], ref[:h], albedo[:h], seg[:h], floors) for h in horizons}
            curves[name].append(metrics[longest]["per_frame"])  # the longest horizon is the whole rollout
            row["horizons"][name] = {h: m["summary"] for h, m in metrics.items()}
        # The reference scored like a model (clip_metrics scores it beside every model): how far the
        # frame-based scores stand from 1 / 0 on the teacher's own frames; its PSNR rows stay empty.
        row["horizons"]["reference"] = {h: {**{k: summary[f"reference_{k}"] for k in ("iou", "colour_drift", "flicker")},
                                            "psnr": float("nan"), "psnr_objects": float("nan")}
                                        for h, summary in row["horizons"][next(iter(frames))].items()}
        per_clip.append(row)
        if i == 0:
            from worldsim.video import write_mp4

            write_mp4(out / "side_by_side.mp4", np.concatenate([ref, *frames.values()], axis=2), fps=spec.sim.fps, upscale=2)
    table = {name: {h: {k: _mean([c["horizons"][name][h][k] for c in per_clip]) for k in SUMMARY_KEYS}
                    for h in horizons} for name in [*models, "reference"]}
    report = {"models": list(models), "horizons": list(horizons), "clips": clips, "resolution": res,
              "start_frames": start, "table": table, "per_clip": per_clip, "seconds": time.perf_counter() - t0,
              "sampling_steps": {n: r.steps for n, r in models.items()}}
    write_atomic(out / "drift.json", json.dumps(report, indent=2, default=float))
    write_atomic(out / "drift.md", markdown(table, horizons) + "\n")
    plot(curves, out / "drift.png")
    return report


def _mean(values: list[float]) -> float:
    """Mean of the finite values; NaN when there are none (the reference's PSNR)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def markdown(table: dict, horizons: tuple[int, ...]) -> str:
    """Rows: metric × model; columns: horizons."""
    lines = ["| metric | model | " + " | ".join(f"{h} frames" for h in horizons) + " |",
             "|---|---|" + "---|" * len(horizons)]
    for key in SUMMARY_KEYS:
        for name, rows in table.items():
            if all(np.isnan(rows[h][key]) for h in horizons):
                continue
            lines.append(f"| {LABELS[key]} | {name} | " + " | ".join(f"{rows[h][key]:.4g}" for h in horizons) + " |")
    return "\n".join(lines)


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    """Per-frame IoU, object PSNR and PSNR against frame index, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    for ax, key in zip(axes, ("iou", "psnr_objects", "psnr"), strict=True):
        for name, per_clip in curves.items():
            curve = np.nanmean([c[key] for c in per_clip], axis=0)
            ax.plot(curve, label=name, lw=1)
        ax.set(title=LABELS[key], xlabel="frame")
        ax.set_xscale("symlog", linthresh=16)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
