"""``worldsim eval``: render held-out random scenes with a checkpoint and measure every metric.

Held-out scenes use template seeds from 10^9 up; training data uses seeds below 10^7 (see
``dataset.scene_seed``), so no evaluated scene was seen in training. ``split="heldout"`` goes
further: the scenes are made of meshes, URDFs, textures and hues no training scene uses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from worldsim.conditioning.arrays import from_frames
from worldsim.io import write_atomic
from worldsim.metrics import clip_metrics, error_by_surface, psnr, squared_error_by_surface, surface_masks
from worldsim.render import Renderer
from worldsim.scene.schema import PlaneBody
from worldsim.templates import random_scene

HELD_OUT_SEED = 10**9


def floor_bodies(spec) -> list[int]:
    """Indices of the ground planes (background for the foreground IoU)."""
    return [i for i, b in enumerate(spec.bodies) if isinstance(b, PlaneBody)]


def reference_clip(spec, seed: int, frames: int, resolution: int, teacher: str, cache: bool = True,
                   map_pass: str | None = None):
    """Simulate ``spec`` and draw every frame with ``teacher``: the condition maps and the reference RGB.

    The maps come from ``map_pass`` (default: the one that lines up with the teacher; see
    :func:`worldsim.recording.rollout`). Path-traced frames come from :mod:`worldsim.reference_cache`
    when the same clip was drawn before (``cache=False`` draws them again, and refreshes the entry).
    """
    from worldsim.recording import default_map_pass, rollout

    size, map_pass = (resolution, resolution), map_pass or default_map_pass(teacher)
    if teacher != "cycles":
        return rollout(spec, seed=seed, frames=frames, resolution=size, teacher=teacher, map_pass=map_pass)
    from worldsim import reference_cache
    from worldsim.conditioning.arrays import frame_maps
    from worldsim.teacher.cycles import CyclesOptions

    rec = rollout(spec, seed=seed, frames=frames, resolution=size, teacher="none", map_pass=map_pass)  # maps: cheap
    key = reference_cache.clip_key(spec, seed, frame_maps(rec.frames), CyclesOptions())
    rgb = reference_cache.load(key, (frames, resolution, resolution, 3)) if cache else None
    if rgb is None:  # the Cycles rollout holds the same maps, so it is the clip
        rec = rollout(spec, seed=seed, frames=frames, resolution=size, teacher="cycles", map_pass=map_pass)
        reference_cache.store(key, np.stack([frame.rgb for frame in rec.frames]))
        return rec
    for frame, image in zip(rec.frames, rgb, strict=True):
        frame.rgb = image
    return rec


def eval_scene(index: int, frames: int, resolution: int, teacher: str, split: str = "train", seed: int = 0,
               cache_references: bool = True, map_pass: str | None = None):
    """Clip ``index`` of an eval run with ``seed``: ``(scene_seed, spec, recording)``, the recording
    holding the maps of ``map_pass`` (a renderer's :attr:`~worldsim.render.Renderer.map_pass`: the
    maps it reads) and ``teacher``'s reference frames (:func:`reference_clip`)."""
    scene_seed = HELD_OUT_SEED + seed * 1000 + index
    spec = random_scene(scene_seed, resolution, frames, look=teacher, split=split)
    return scene_seed, spec, reference_clip(spec, scene_seed, frames, resolution, teacher, cache_references, map_pass)


def evaluate(renderer: Renderer, out: str | Path, clips: int = 6, frames: int = 48, seed: int = 0,
             progress: bool = True, teacher: str | None = None, resolution: int | None = None,
             split: str = "train", cache_references: bool = True, teacher_forcing: bool = False) -> dict:
    """Render ``clips`` held-out scenes of ``frames`` frames; write ``metrics.json`` and ``metrics.png``.

    The reference frames come from ``teacher`` (default: the one the checkpoint learned from, so a
    Cycles-look checkpoint is measured against held-out Cycles frames), at ``resolution`` (default:
    the size the checkpoint trained on). ``split`` picks the scenes' assets (``heldout``: unseen ones).
    Path-traced references are path-traced once per clip and then read from a cache
    (:mod:`worldsim.reference_cache`); ``cache_references=False`` draws them again.

    ``teacher_forcing`` renders each clip a second time with every window conditioned on the
    reference's frames before it, and reports ``psnr_teacher_forced`` and
    ``feedback_slope_per_100_frames``: the trend of the PSNR the model's own frames cost when fed
    back. A long clip's PSNR can fall because its scene gets harder to draw (bodies pile up, move
    into shadow); that part falls in both renders, so only drift shows in this slope.
    """
    teacher = teacher or renderer.teacher
    resolution = resolution or renderer.resolution
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results, start, render_time = [], time.perf_counter(), 0.0
    iterator = range(clips)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="eval", unit="clip")
    for i in iterator:
        scene_seed, spec, rec = eval_scene(i, frames, resolution, teacher, split, seed, cache_references,
                                           renderer.map_pass)
        reference = np.stack([frame.rgb for frame in rec.frames])
        t0 = time.perf_counter()
        # Every look's arrays, once: a raster look ignores the Cycles ones, and the surface kinds need them.
        clip = from_frames(spec, rec.frames)
        model = renderer.render_clip(clip, seed=seed + i)
        render_time += time.perf_counter() - t0
        m = clip_metrics(model, reference, clip["albedo"], clip["segmentation"], floor_bodies(spec))
        if teacher_forcing:
            forced = renderer.render_clip(clip, seed=seed + i, teacher_forcing=reference)
            m["per_frame"]["psnr_teacher_forced"] = [psnr(a, b) for a, b in zip(forced, reference, strict=True)]
            m["summary"]["psnr_teacher_forced"] = psnr(forced, reference)  # over the clip, like "psnr"
        m["scene_seed"] = scene_seed
        m["surface_error"] = squared_error_by_surface(model, reference, clip_surfaces(clip))
        results.append(m)
    keys = results[0]["summary"].keys()
    overall = {k: float(np.nanmean([r["summary"][k] for r in results])) for k in keys}
    overall["model_frames_per_s"] = clips * frames / render_time
    # Trends over the clip (a long clip that degrades shows a negative slope): per 100 frames, of a line
    # fitted to the per-frame mean over clips.
    for key in ("iou", "psnr"):
        overall[f"{key}_slope_per_100_frames"] = trend([r["per_frame"][key] for r in results])
    if teacher_forcing:
        overall["feedback_slope_per_100_frames"] = trend(
            [np.subtract(r["per_frame"]["psnr"], r["per_frame"]["psnr_teacher_forced"]) for r in results])
    report = {"checkpoint_steps": renderer.meta.get("steps"), "sampling_steps": renderer.steps,
              "sampling_temperature": renderer.temperature, "sampling_feedback": renderer.feedback,
              "precision": renderer.precision, "teacher": teacher, "clips": clips, "teacher_forcing": teacher_forcing,
              "frames": frames, "resolution": resolution, "split": split, "overall": overall,
              "by_surface": error_by_surface([r["surface_error"] for r in results]), "per_clip": results,
              "seconds": time.perf_counter() - start}
    write_atomic(out / "metrics.json", json.dumps(report, indent=2))
    plot_metrics(results, out / "metrics.png", report["by_surface"])
    return report


def clip_surfaces(clip: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each pixel's surface kind in a clip's condition arrays (with the Cycles ones:
    :func:`~worldsim.conditioning.arrays.condition_arrays`), as :func:`worldsim.metrics.surface_masks`."""
    return surface_masks(clip["segmentation"], clip["pbr"], clip["area_light"])


def trend(per_clip: list[list[float]]) -> float:
    """Slope per 100 frames of a line fitted to the per-frame mean of ``per_clip`` curves (0 for one frame)."""
    curve = np.nanmean(np.asarray(per_clip, np.float64), axis=0)
    if curve.size < 2:
        return 0.0
    return float(np.polyfit(np.arange(curve.size), curve, 1)[0] * 100)


def plot_metrics(results: list[dict], path: Path, by_surface: dict[str, dict[str, float]] | None = None) -> None:
    """Each per-frame metric over time, averaged over clips (model vs reference where both exist), and
    with ``by_surface`` (:func:`worldsim.metrics.error_by_surface`) the PSNR per surface kind beside
    its share of the pixels and of the error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4 if by_surface else 3, figsize=(17.5 if by_surface else 13, 3.4))
    for ax, key, label in zip(axes[:3], ("psnr", "ssim", "iou"), ("PSNR vs reference (dB)", "SSIM", "foreground IoU"),
                              strict=True):
        curve = np.nanmean([r["per_frame"][key] for r in results], axis=0)
        ax.plot(curve, label="model")
        if key == "iou":
            ax.plot(np.nanmean([r["per_frame"]["reference_iou"] for r in results], axis=0), label="reference frames")
            ax.set_ylim(0, 1.02)
            ax.legend()
        ax.set_title(label)
        ax.set_xlabel("frame")
    if by_surface:
        _plot_surfaces(axes[3], by_surface)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_surfaces(ax, by_surface: dict[str, dict[str, float]]) -> None:
    """Bars of PSNR per surface kind, each labelled with its share of the pixels and of the error."""
    names = [n for n, v in by_surface.items() if v["pixel_share"] > 0]
    values = [by_surface[n]["psnr"] for n in names]
    bars = ax.bar(range(len(names)), values, color="tab:blue")
    for bar, name in zip(bars, names, strict=True):
        share = by_surface[name]
        ax.annotate(f"px {share['pixel_share']:.0%}\nerr {share['error_share']:.0%}", (bar.get_x() + bar.get_width() / 2,
                    bar.get_height()), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names], fontsize=7)
    ax.set_ylim(0, max(values, default=1) * 1.25)
    ax.set_title("PSNR by surface (dB)")
