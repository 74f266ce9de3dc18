"""benchmarks/envs.py runs end to end on a short budget, so the README's env table cannot rot."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_envs_benchmark_measures_every_mode_in_turns_and_the_ratios(tmp_path):
    bench = load_benchmark("envs")
    out = tmp_path / "envs.json"
    result = bench.main(["--env", "worldsim/PandaReach-v0", "--num-envs", "1", "2", "--workers", "1", "--no-panda-gym",
                         "--modes", "state", "rgb_reference", "rgb", "--seconds", "0.3", "--rounds", "2", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    rates = result["steps_per_s"]
    assert set(rates) == {"state", "rgb_reference", "rgb"} and all(set(row) == {"1", "2"} for row in rates.values())
    assert all(rate > 0 for row in rates.values() for rate in row.values())
    ratio = result["over_rgb_reference"]["rgb"]["2"]
    assert 0 < ratio < 10 and "rgb_compiled" not in result["over_rgb_reference"]  # only the modes it ran
