"""benchmarks/mirror_cost.py runs end to end at a small size, so it cannot rot."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_mirror_cost_times_the_conditions_with_and_without_the_mirror(tmp_path):
    bench = load_benchmark("mirror_cost")
    rows = bench.main(["--resolutions", "32", "--frames", "2", "--repeats", "1", "--out", str(tmp_path)])
    assert [r["resolution"] for r in rows] == [32]
    row = rows[0]
    assert row["conditions_ms_18"] > 0 and row["conditions_ms_22"] > 0
    assert abs(row["mirror_ms"] - (row["conditions_ms_22"] - row["conditions_ms_18"])) < 1e-9
    saved = json.loads((tmp_path / "mirror_cost.json").read_text())
    assert saved["rows"] == rows and "| 32² |" in (tmp_path / "mirror_cost.md").read_text()
