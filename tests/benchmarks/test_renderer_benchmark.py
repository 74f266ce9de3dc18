"""benchmarks/renderer.py runs end to end at tiny sizes, so it cannot rot."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_renderer_benchmark_writes_rows_for_every_size_and_step(tmp_path):
    bench = load_benchmark("renderer")
    rows = bench.main(["--resolutions", "32", "40", "--steps", "1", "2", "--out", str(tmp_path), "--checkpoint", "raster"])
    assert [(r["resolution"], r["steps"]) for r in rows] == [(32, 1), (32, 2), (40, 1), (40, 2)]
    assert all(r["learned_fps"] > 0 and r["map_pass_ms_per_frame"] > 0 for r in rows)
    saved = json.loads((tmp_path / "renderer.json").read_text())
    assert saved["rows"] == rows and "| 40² | 2 |" in (tmp_path / "renderer.md").read_text()
