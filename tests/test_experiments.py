"""Counterfactual sweeps: outcomes against analytic physics, files written, bad input named."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from worldsim import WorldsimError, load_scene
from worldsim.errors import SceneError
from worldsim.experiments import sweep
from worldsim.scene.assets import SCENES_DIR


def test_incline_friction_sweep_matches_the_analytic_slide():
    spec = load_scene(SCENES_DIR / "incline_slide.yaml")
    t = 0.5
    result = sweep(spec, "bodies[block].friction", [0.0, 0.5, 1.0, 1.5], ["travel:block"], seconds=t, render=None)
    theta, g, incline = math.radians(30), 9.81, 0.2  # Bullet multiplies the two frictions
    for row in result.table:
        a = g * (math.sin(theta) - row["value"] * incline * math.cos(theta))
        assert row["travel:block"] == pytest.approx(0.5 * a * t * t, rel=0.05, abs=0.01), row
    travels = [row["travel:block"] for row in result.table]
    assert travels == sorted(travels, reverse=True)


def test_a_harder_hit_topples_the_tower():
    spec = load_scene(SCENES_DIR / "tower_topple.yaml")
    result = sweep(spec, "events[0].impulse", [[0.2, 0.2, 0.0], [9.0, 9.0, 0.0]], ["toppled:b5", "final_z:b5"], seconds=2.5,
                   render=None)
    gentle, hard = result.table
    assert gentle["toppled:b5"] == 0 and gentle["final_z:b5"] == pytest.approx(1.1, abs=0.02)
    assert hard["final_z:b5"] < 1.0  # knocked out from under it, the top block drops at least one level


def test_bad_parameters_and_outcomes_are_named():
    spec = load_scene(SCENES_DIR / "incline_slide.yaml")
    with pytest.raises(SceneError, match="blok"):
        sweep(spec, "bodies[blok].mass", [1.0], ["travel:block"], render=None)
    with pytest.raises(SceneError, match="mass"):
        sweep(spec, "bodies[block].mass", [-1.0], ["travel:block"], render=None)
    with pytest.raises(WorldsimError, match="unknown metric"):
        sweep(spec, "bodies[block].mass", [1.0], ["warp:block"], render=None)
    with pytest.raises(WorldsimError, match="no body named"):
        sweep(spec, "bodies[block].mass", [1.0], ["travel:ghost"], render=None)


def test_cli_sweep_writes_table_plot_and_clips(tmp_path):
    out = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "sweep", str(SCENES_DIR / "incline_slide.yaml"),
                             "--param", "bodies[block].friction", "--values", "0.1", "1.0", "--outcome", "travel:block",
                             "--seconds", "0.5", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [r["value"] for r in rows] == [0.1, 1.0] and rows[0]["travel:block"] > rows[1]["travel:block"]
    assert "| bodies[block].friction |" in (out / "sweep.md").read_text()
    assert (out / "sweep.png").stat().st_size > 5000 and (out / "clips.mp4").stat().st_size > 1000
