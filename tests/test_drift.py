"""The drift experiment end to end on tiny models (the real run uses the shipped model and a trained baseline)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from worldsim.train import TrainConfig, train


def _train(data, out, **kw):
    train(TrainConfig(data=str(data), out=str(out), preset="tiny", steps=2, batch=2, warmup=1, log_every=1,
                      checkpoint_every=2, sample_every=100, val_clips=1, **kw), progress=False)
    return out / "checkpoint.safetensors"


def test_drift_experiment_writes_table_plot_and_video(tiny_dataset, tmp_path):
    hybrid = _train(tiny_dataset, tmp_path / "hybrid")
    pure = _train(tiny_dataset, tmp_path / "pure", physics=False, context_frames=2, context_prob=1.0)
    out = tmp_path / "drift"
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "experiment", "drift", "--out", str(out),
                             "--checkpoint", str(hybrid), "--baseline", str(pure), "--horizons", "4", "8",
                             "--clips", "1", "--steps", "1"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "drift.json").read_text())
    assert report["models"] == ["hybrid", "pure-video"] and report["start_frames"] == 2
    for name in report["models"]:
        for h in ("4", "8"):
            row = report["table"][name][h]
            assert 0.0 <= row["iou"] <= 1.0 and math.isfinite(row["psnr"])
    reference = report["table"]["reference"]["8"]  # the teacher's own frames, scored the same way
    assert reference["colour_drift"] >= 0 and 0.0 <= reference["iou"] <= 1.0 and math.isnan(reference["psnr"])
    table = (out / "drift.md").read_text()
    assert "| foreground IoU vs physics | pure-video |" in table and "| foreground IoU vs physics | reference |" in table
    assert "| PSNR (dB) | reference |" not in table
    assert (out / "drift.png").stat().st_size > 5000 and (out / "side_by_side.mp4").stat().st_size > 1000
