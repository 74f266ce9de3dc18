"""The shipping rule's comparison: a candidate's ``worldsim eval`` JSONs against the default's.

Run: ``python benchmarks/compare_evals.py BASE.json CANDIDATE.json [BASE2.json CANDIDATE2.json ...]``,
each pair the same eval (same clips, seed, resolution and split) of the shipped default and of a
candidate, e.g. the 32-clip sets at 256² of both splits. Per pair it prints PSNR / SSIM / ꟻLIP /
object-region PSNR of each, the mean gain, how many clips rose and the range of their changes (a
gain carried by a few clips reads differently from one where they move together), and the gain
on each kind of surface (``by_surface``). The candidate passes when its PSNR beats the default's on
every pair (the rule since stage 26, docs/cycles_look.md); the exit status is 0 when it passes, 1
when it does not, and 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HEADLINE = ("psnr", "ssim", "flip", "psnr_objects")


class CompareError(ValueError):
    """Eval JSONs that cannot be compared; the message names the file."""


def load_eval(path: str | Path) -> dict:
    """One ``worldsim eval`` metrics JSON, checked for what the comparison reads."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CompareError(f"{path}: not a readable eval JSON ({err})") from err
    for key in ("overall", "per_clip"):
        if key not in report:
            raise CompareError(f"{path}: no {key!r}: not a `worldsim eval` metrics.json")
    missing = [k for k in HEADLINE if k not in report["overall"]]
    if missing or any("psnr" not in clip.get("summary", {}) for clip in report["per_clip"]):
        raise CompareError(f"{path}: overall lacks {missing or 'nothing'} or a clip lacks summary.psnr: "
                           "an eval from before ꟻLIP and object regions? run `worldsim eval` again")
    return report


def _seeds(report: dict) -> list:
    return [clip.get("scene_seed") for clip in report["per_clip"]]


def compare(base: dict, candidate: dict, names: tuple[str, str] = ("base", "candidate")) -> dict:
    """The candidate's gains over ``base`` on one eval: headline metrics, per clip and per surface.

    Raises:
        CompareError: the two reports are not of the same clips.
    """
    if _seeds(base) != _seeds(candidate):
        raise CompareError(f"{names[1]}: its clips (scene seeds {_seeds(candidate)[:4]}...) are not "
                           f"{names[0]}'s ({_seeds(base)[:4]}...): compare evals run with the same arguments")
    gains = np.array([c["summary"]["psnr"] - b["summary"]["psnr"]
                      for b, c in zip(base["per_clip"], candidate["per_clip"], strict=True)])
    surfaces = {kind: candidate["by_surface"][kind]["psnr"] - stats["psnr"]
                for kind, stats in base.get("by_surface", {}).items()
                if kind in candidate.get("by_surface", {})}
    return {"base": {k: base["overall"][k] for k in HEADLINE},
            "candidate": {k: candidate["overall"][k] for k in HEADLINE},
            "gain": candidate["overall"]["psnr"] - base["overall"]["psnr"],
            "clips_up": int((gains > 0).sum()), "clips": len(gains),
            "clip_gain_range": (float(gains.min()), float(gains.max())) if len(gains) else (0.0, 0.0),
            "surface_gain": surfaces}


def _headline(metrics: dict) -> str:
    return " / ".join(f"{metrics[k]:.3f}" if k in ("ssim", "flip") else f"{metrics[k]:.2f}" for k in HEADLINE)


def describe(result: dict) -> str:
    """Three lines a person reads: both headlines, the per-clip spread, the per-surface gains."""
    low, high = result["clip_gain_range"]
    surfaces = ", ".join(f"{kind} {gain:+.2f}" for kind, gain in result["surface_gain"].items()
                         if np.isfinite(gain))
    return (f"  base      {_headline(result['base'])}\n  candidate {_headline(result['candidate'])}\n"
            f"  gain {result['gain']:+.3f} dB, {result['clips_up']} of {result['clips']} clips up "
            f"({low:+.2f} to {high:+.2f}); by surface: {surfaces or 'none'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", metavar="BASE CANDIDATE", help="eval JSONs, default then candidate")
    args = parser.parse_args(argv)
    passed = True
    try:
        if len(args.pairs) % 2:
            raise CompareError(f"{len(args.pairs)} files: give them in pairs, BASE then CANDIDATE")
        for base_path, candidate_path in zip(args.pairs[::2], args.pairs[1::2], strict=True):
            result = compare(load_eval(base_path), load_eval(candidate_path), (base_path, candidate_path))
            print(f"{candidate_path} against {base_path}:\n{describe(result)}")
            passed &= result["gain"] > 0
    except CompareError as err:
        print(f"compare_evals: error: {err}", file=sys.stderr)
        return 2
    print("PASS: the candidate beats the default on every pair" if passed
          else "FAIL: the candidate does not beat the default on every pair")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
