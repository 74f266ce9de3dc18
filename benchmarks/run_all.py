"""Every benchmark in one go, one after another, each printing its table and writing its JSON.

Run: ``python benchmarks/run_all.py [--quick]``. ``--quick`` shortens the env and soak runs (for a
smoke check; quote the full run). Results land in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = {"envs.py": ["--seconds", "1", "--num-envs", "1", "8"],
             "soak.py": ["--state-steps", "2000", "--rgb-steps", "100", "--shots", "50"]} if args.quick else {}
    for script in ("reference_render.py", "renderer.py", "scaling.py", "envs.py", "soak.py"):
        print(f"\n=== {script} ===", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *quick.get(script, [])], check=True)


if __name__ == "__main__":
    main()
