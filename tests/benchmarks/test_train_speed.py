"""benchmarks/train_speed.py runs end to end at a tiny size, so it cannot rot."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_train_speed_writes_one_row_per_precision(tmp_path):
    bench = load_benchmark("train_speed")
    rows = bench.main(["--preset", "tiny", "--crop", "16", "--batch", "2", "--rounds", "2", "--out", str(tmp_path)])
    assert [r["precision"] for r in rows] == ["fp32", "bf16"]
    assert rows[0]["speedup_vs_fp32"] == 1.0 and all(r["s_per_step"] > 0 and r["windows_per_s"] > 0 for r in rows)
    saved = json.loads((tmp_path / "train_speed.json").read_text())
    assert saved["rows"] == rows and "| bf16 | tiny | 16² | 2 |" in (tmp_path / "train_speed.md").read_text()
