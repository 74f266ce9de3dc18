"""benchmarks/error_split.py names the right kind of error, and runs end to end at a tiny size."""

from __future__ import annotations

import json

import numpy as np

from tests.benchmarks import load_benchmark
from worldsim.metrics import psnr_of_mse


def _reference(seed=0):
    """Two frames of a smooth two-body picture with some texture, and its segmentation."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    base = np.stack([60 + 120 * x, 80 + 90 * y, 100 + 40 * x * y], -1) + rng.normal(0, 6, (48, 64, 3))
    seg = np.where(x < 0.5, 0, 1)
    return np.clip(np.stack([base, base[::-1]]), 0, 255).astype(np.uint8), np.stack([seg, seg[::-1]])


def test_a_global_tone_error_is_low_pass_and_an_affine_map_removes_it():
    split = load_benchmark("error_split").error_split
    ref, seg = _reference()
    toned = np.clip(ref.astype(float) @ np.array([[0.8, 0.1, 0], [0, 0.9, 0], [0.05, 0, 0.7]]) + 20, 0, 255)
    mse = split(np.round(toned).astype(np.uint8), ref, seg)
    assert psnr_of_mse(mse["raw"]) < 28
    assert psnr_of_mse(mse["frame_affine"]) > psnr_of_mse(mse["raw"]) + 15
    assert mse["low_pass"] > 5 * mse["high_pass"]


def test_per_body_gains_need_the_per_body_fit_and_fine_noise_is_high_pass():
    split = load_benchmark("error_split").error_split
    ref, seg = _reference(1)
    gain = np.where(seg == 0, 0.6, 1.3)[..., None]
    per_body = split(np.clip(ref * gain, 0, 255).astype(np.uint8), ref, seg)
    assert psnr_of_mse(per_body["body_affine"]) > psnr_of_mse(per_body["frame_affine"]) + 10
    grain = np.random.default_rng(2).normal(0, 25, ref.shape)  # independent per pixel and channel
    noisy = split(np.clip(ref + grain, 0, 255).astype(np.uint8), ref, seg)
    assert noisy["high_pass"] > 20 * noisy["low_pass"]
    assert noisy["frame_affine"] > 0.25 * noisy["raw"]  # a tone map only shrinks it (a tone error: to ~0)


def test_error_split_runs_on_eval_clips_and_writes_json(tmp_path):
    bench = load_benchmark("error_split")
    report = bench.main(["--checkpoint", "raster", "--resolution", "32", "--clips", "1", "--frames", "2",
                         "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "error_split.json").read_text())
    assert saved["pooled_psnr"] == report["pooled_psnr"]
    assert set(report["pooled_psnr"]) == {"raw", "frame_affine", "body_affine", "low_pass", "high_pass"}
    assert report["pooled_psnr"]["frame_affine"] >= report["pooled_psnr"]["raw"]  # a least-squares fit never loses
