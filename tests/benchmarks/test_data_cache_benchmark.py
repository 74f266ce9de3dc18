"""benchmarks/data_cache.py runs end to end on the tiny dataset, so it cannot rot."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_data_cache_benchmark_times_ram_warm_and_cold_maps_of_equal_windows(tiny_dataset, tmp_path):
    bench = load_benchmark("data_cache")
    rows = bench.main(["--data", str(tiny_dataset), "--cache", str(tmp_path / "cache"), "--shards", "2", "--batch", "2",
                       "--crop", "16", "--rounds", "2", "--train-rounds", "1", "--preset", "tiny",
                       "--out", str(tmp_path)])
    assert [r["source"] for r in rows] == ["windows, ram", "windows, mapped, warm", "windows, mapped, cold",
                                           "train step, RAM", "train step, mapped"]
    assert all(r["ms"] > 0 and r["shards"] == 2 for r in rows)
    saved = json.loads((tmp_path / "data_cache.json").read_text())
    assert saved["rows"] == rows and "| windows, mapped, cold |" in (tmp_path / "data_cache.md").read_text()
