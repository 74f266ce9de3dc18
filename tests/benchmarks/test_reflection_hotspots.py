"""benchmarks/reflection_hotspots.py finds an error put where bodies are mirrored, and runs end to end."""

from __future__ import annotations

import json

import numpy as np

from tests.benchmarks import load_benchmark


def test_an_error_on_the_mirrored_pixels_shows_as_a_hotspot_and_one_elsewhere_does_not():
    shares = load_benchmark("reflection_hotspots").shares
    seg = np.zeros((2, 48, 48), int)
    seg[:, 20:28, 20:28] = 1  # a body on the floor
    hit = np.zeros_like(seg, bool)
    hit[:, 28:34, 20:28] = True  # the floor just before it mirrors it
    on_hits = np.where(hit, 100.0, 1.0)
    far = np.ones(seg.shape)
    far[:, :8, :8] = 100.0  # a corner far from the body and its mirror image
    hot, cold = shares(on_hits, hit, seg), shares(far, hit, seg)
    assert hot["hit_error"] > 5 * hot["hit_pixels"] and hot["hit_error"] > 5 * hot["control_error"]
    assert cold["hit_error"] < cold["hit_pixels"] and 0 < cold["control_pixels"] < 1


def test_reflection_hotspots_runs_on_eval_clips_and_writes_json_and_a_picture(tmp_path):
    bench = load_benchmark("reflection_hotspots")
    report = bench.main(["--checkpoint", "raster", "--resolution", "32", "--clips", "1", "--frames", "2",
                         "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "reflection_hotspots.json").read_text())
    assert saved["pooled"] == report["pooled"] and 0 <= report["pooled"]["hit_pixels"] <= 1
    assert (tmp_path / "reflection_hotspots.png").stat().st_size > 0
