"""Notebooks run end to end (small settings): their code cells are executed in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def notebook_source(path: Path) -> str:
    """The code cells of a notebook as one script (IPython magics are not used in ours)."""
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert not any(line.lstrip().startswith(("%", "!")) for block in code for line in block.splitlines())
    return "\n\n".join(code)


@pytest.mark.parametrize("name, env, outputs", [
    ("train_agent.ipynb", {"WORLDSIM_NB_STEPS": "300", "WORLDSIM_NB_EPISODES": "1", "WORLDSIM_NB_EVAL": "2"},
     ["reach_playback.mp4"]),
    ("counterfactual.ipynb", {"WORLDSIM_NB_VALUES": "3"}, ["incline_vs_analytic.png", "reference/clips.mp4",
                                                           "learned/clips.mp4", "reference/sweep.json"]),
])
def test_notebook_runs(tmp_path, name, env, outputs):
    script = tmp_path / "notebook.py"
    script.write_text(notebook_source(ROOT / "notebooks" / name))
    run_env = {**os.environ, **env, "WORLDSIM_NB_OUT": str(tmp_path / "out"), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=run_env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for out in outputs:
        assert (tmp_path / "out" / out).stat().st_size > 200
