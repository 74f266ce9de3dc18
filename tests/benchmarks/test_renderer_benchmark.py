"""benchmarks/renderer.py runs end to end at tiny sizes, so it cannot rot."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_renderer_benchmark_writes_rows_for_every_size_step_and_precision(tmp_path):
    bench = load_benchmark("renderer")
    rows = bench.main(["--resolutions", "32", "40", "--steps", "1", "2", "--out", str(tmp_path), "--checkpoint", "raster"])
    assert [(r["resolution"], r["steps"], r["precision"]) for r in rows] == [
        (res, n, p) for res in (32, 40) for n in (1, 2) for p in ("fp32", "bf16")]
    assert all(r["learned_fps"] > 0 and r["map_pass_ms_per_frame"] > 0 for r in rows)
    saved = json.loads((tmp_path / "renderer.json").read_text())
    assert saved["rows"] == rows and "| 40² | 2 | bf16 |" in (tmp_path / "renderer.md").read_text()
