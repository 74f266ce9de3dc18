"""Plot several ``success.json`` curves from ``train_sac_her.py`` on one figure, with optional bars.

    python examples/plot_success.py --run "rgb, seed 0=runs/sac_launch_rgb" --run "state=runs/sac_launch_state" \\
        --baseline runs/constant_baseline/constant_baseline.json --out launch_to_bin.png

``--run LABEL=DIR`` reads ``DIR/success.json``; ``--baseline`` draws the best constant action's
success rate (``constant_baseline.py``) as a dashed line: what an agent that ignores its
observation reaches at best.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def parse_run(text: str) -> tuple[str, Path]:
    """``"LABEL=DIR"`` → (label, DIR/success.json)."""
    label, sep, folder = text.partition("=")
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"--run wants LABEL=DIR, got {text!r}")
    path = Path(folder) / "success.json"
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"--run {text!r}: {path} does not exist")
    return label, path


def plot_curves(curves: list[tuple[str, list[dict]]], path: Path, title: str = "", baseline: dict | None = None) -> None:
    """Success rate against environment steps, one line per ``(label, success.json history)``.

    ``baseline``: a ``constant_baseline.json`` document, drawn as a dashed line at its best rate.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, history in curves:
        ax.plot([h["env_steps"] for h in history], [h["success_rate"] for h in history], marker="o", ms=3, label=label)
    if baseline:
        best = baseline["best"]
        ax.axhline(best["success_rate"], ls="--", c="gray", label=f"best constant action ({best['success_rate']:.2f})")
    ax.set(xlabel="environment steps", ylabel="success rate (held-out seeds)", ylim=(-0.02, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=parse_run, action="append", required=True, help="LABEL=DIR, repeatable")
    parser.add_argument("--baseline", type=Path, help="constant_baseline.json to draw as a dashed line")
    parser.add_argument("--title", default="")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    curves = [(label, json.loads(path.read_text())) for label, path in args.run]
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    plot_curves(curves, args.out, args.title, baseline)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
