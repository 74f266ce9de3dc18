"""``worldsim eval``: held-out scenes, the report a user reads, and path-traced references drawn once."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from worldsim import reference_cache
from worldsim.evaluate import HELD_OUT_SEED, evaluate
from worldsim.render import Renderer


def test_eval_reports_every_metric_on_held_out_scenes(tmp_path):
    report = evaluate(Renderer("raster", steps=1), tmp_path, clips=2, frames=3, resolution=32, progress=False)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["overall"] == pytest.approx(report["overall"], nan_ok=True)
    assert (tmp_path / "metrics.png").stat().st_size > 0
    assert [clip["scene_seed"] for clip in report["per_clip"]] == [HELD_OUT_SEED, HELD_OUT_SEED + 1]
    overall = report["overall"]
    trends = {"psnr_slope_per_100_frames", "iou_slope_per_100_frames"}
    assert {"psnr", "ssim", "flip", "psnr_objects", "flicker"} | trends <= set(overall)
    assert 5 < overall["psnr"] < 60 and 0 < overall["ssim"] <= 1 and 0 <= overall["flip"] <= 1
    assert report["teacher"] == "tiny" and report["resolution"] == 32 and report["sampling_steps"] == 1
    shares = report["by_surface"].values()  # where the error sits (tests/test_metrics.py checks the kinds)
    assert sum(s["pixel_share"] for s in shares) == pytest.approx(1) and sum(s["error_share"] for s in shares) == pytest.approx(1)


def _count_cycles_frames(monkeypatch) -> list[int]:
    from worldsim.teacher import cycles

    calls: list[int] = []
    render = cycles.CyclesTeacher.render

    def counted(self, world):
        calls.append(1)
        return render(self, world)

    monkeypatch.setattr(cycles.CyclesTeacher, "render", counted)
    return calls


def test_cycles_references_are_path_traced_once_per_clip(tmp_path, monkeypatch):
    pytest.importorskip("bpy")
    monkeypatch.setenv("WORLDSIM_CACHE", str(tmp_path / "cache"))
    calls = _count_cycles_frames(monkeypatch)
    renderer = Renderer("cycles", steps=1)
    kwargs = dict(clips=1, frames=2, resolution=24, progress=False)
    first = evaluate(renderer, tmp_path / "first", **kwargs)
    assert len(calls) == 2
    second = evaluate(renderer, tmp_path / "second", **kwargs)
    assert len(calls) == 2  # read back, not drawn again
    for key in ("psnr", "ssim", "flip", "psnr_objects"):
        assert second["overall"][key] == first["overall"][key]
    evaluate(renderer, tmp_path / "fresh", cache_references=False, **kwargs)
    assert len(calls) == 4
    evaluate(renderer, tmp_path / "other", seed=1, **kwargs)  # another scene misses the cache
    assert len(calls) == 6


def _maps(shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"segmentation": rng.integers(-1, 3, (2, 8, 8)).astype(np.int32),
            "depth": (rng.random((2, 8, 8)) + shift).astype(np.float32),
            "albedo": rng.integers(0, 255, (2, 8, 8, 3)).astype(np.uint8)}


def test_a_clip_whose_maps_moved_misses_the_cache(monkeypatch):
    """The physics or map pass changing (here: depth moved by a millimetre) must not reuse old pictures."""
    pytest.importorskip("bpy")
    from worldsim.scene.loader import load_scene
    from worldsim.teacher.cycles import CyclesOptions

    from .conftest import SCENES

    spec = load_scene(SCENES[0])
    key = reference_cache.clip_key(spec, 0, _maps(), CyclesOptions())
    assert key == reference_cache.clip_key(spec, 0, _maps(), CyclesOptions())
    assert key != reference_cache.clip_key(spec, 0, _maps(shift=1e-3), CyclesOptions())
    assert key != reference_cache.clip_key(spec, 1, _maps(), CyclesOptions())
    assert key != reference_cache.clip_key(spec, 0, _maps(), CyclesOptions(samples=64))


def test_an_unreadable_or_mis_shaped_entry_is_drawn_again(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLDSIM_CACHE", str(tmp_path))
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    reference_cache.store("k", frames)
    assert np.array_equal(reference_cache.load("k", frames.shape), frames)
    assert reference_cache.load("k", (3, 4, 4, 3)) is None
    whole = reference_cache.entry_path("k").read_bytes()
    reference_cache.entry_path("k").write_bytes(whole[: len(whole) // 2])  # a zip cut short (a killed writer's copy)
    assert reference_cache.load("k", frames.shape) is None
    reference_cache.entry_path("k").write_bytes(b"not an npz")
    assert reference_cache.load("k", frames.shape) is None
    assert reference_cache.load("absent", frames.shape) is None


def test_eval_cli_prints_the_metrics_table(tmp_path):
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "eval", "--checkpoint", "raster", "--out", str(tmp_path),
                             "--clips", "1", "--frames", "2", "--resolution", "32", "--steps", "1", "--teacher-forcing",
                             "--no-feedback", "--precision", "bf16"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "psnr" in result.stdout and "feedback_slope_per_100_frames" in result.stdout
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["sampling_feedback"] is False and report["precision"] == "bf16"


def test_trend_is_the_slope_per_100_frames_of_the_mean_curve():
    """A clip losing 0.5 dB per 100 frames reads −0.5; a flat one 0; a single frame has no trend."""
    from worldsim.evaluate import trend

    frames = np.arange(240)
    assert trend([30 - 0.005 * frames, 32 - 0.005 * frames]) == pytest.approx(-0.5)
    assert trend([np.full(240, 25.0)]) == pytest.approx(0.0)
    assert trend([[20.0]]) == 0.0


class _Drifting:
    """A stand-in renderer: the reference plus noise, whose size grows per frame when it is fed its
    own frames (``drift``) and when the scene gets harder (``harder``, in both renders)."""

    look, teacher, map_pass, resolution, meta, steps, temperature, feedback = "raster", "tiny", "tiny", 32, {}, 1, 0.0, True
    precision = "fp32"

    def __init__(self, drift: float, harder: float):
        self.drift, self.harder = drift, harder

    def render_clip(self, clip, seed=0, teacher_forcing=None):
        reference = clip["albedo"].astype(np.float32)  # the reference, under the fixture below
        t = np.arange(len(reference), dtype=np.float32)[:, None, None, None]
        sigma = 2 + self.harder * t + (0 if teacher_forcing is not None else self.drift * t)
        noise = np.random.default_rng(seed).standard_normal(reference.shape) * sigma
        return np.clip(reference + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def unlit_references(monkeypatch):
    """Reference frames equal to the albedo, which a stand-in renderer finds in the condition arrays."""
    import worldsim.evaluate as evaluate_module

    drawn = evaluate_module.reference_clip

    def unlit(*args, **kwargs):
        rec = drawn(*args, **kwargs)
        for frame in rec.frames:
            frame.rgb = frame.albedo
        return rec

    monkeypatch.setattr(evaluate_module, "reference_clip", unlit)


@pytest.mark.usefixtures("unlit_references")
def test_the_feedback_slope_sees_drift_and_not_a_scene_getting_harder(tmp_path):
    kwargs = dict(clips=1, frames=12, resolution=32, progress=False, teacher_forcing=True)
    drifting = evaluate(_Drifting(drift=3, harder=0), tmp_path / "a", **kwargs)["overall"]
    harder = evaluate(_Drifting(drift=0, harder=3), tmp_path / "b", **kwargs)["overall"]
    assert drifting["feedback_slope_per_100_frames"] < -50 and drifting["psnr_slope_per_100_frames"] < -50
    assert harder["psnr_slope_per_100_frames"] < -50  # the plain trend cannot tell the two apart
    assert abs(harder["feedback_slope_per_100_frames"]) < 5
    assert harder["psnr_teacher_forced"] == pytest.approx(harder["psnr"], abs=0.5)
    assert drifting["psnr_teacher_forced"] > drifting["psnr"] + 3


def test_teacher_forced_eval_of_a_real_checkpoint(tmp_path):
    report = evaluate(Renderer("raster", steps=1), tmp_path, clips=1, frames=6, resolution=32, progress=False,
                      teacher_forcing=True)
    assert report["teacher_forcing"] and len(report["per_clip"][0]["per_frame"]["psnr_teacher_forced"]) == 6
    assert np.isfinite(report["overall"]["feedback_slope_per_100_frames"])
