"""Where the learned renderer's error against Cycles lives: broad tone, per body, or fine detail.

Run: ``python benchmarks/error_split.py [--checkpoint cycles] [--resolution 256] [--clips 8] [--frames 8]
[--split train]``, on the clips ``worldsim eval`` scores with the same arguments (their Cycles frames
come from the reference cache when eval drew them before). Per clip and pooled over every pixel, it
prints the PSNR of:

- ``raw``: the model's frames as they are;
- ``frame_affine``: after the best colour-affine map (3×3 matrix and offset) per frame, fitted to the
  reference: what a perfect global tone and white balance would reach (an oracle, not a renderer);
- ``body_affine``: the same per body and per frame (empty space counts as one body);
- ``low_pass`` / ``high_pass``: the error's 17×17 box-blurred part (about two patches: tone and
  shading gradients) and the rest (edges, texture, highlights); their squared errors add up to
  about the raw one, so the lower PSNR names the larger share.

Writes ``benchmarks/results/error_split.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks.eval_clips

OUT = Path(__file__).resolve().parent / "results"
BLUR = 17  # pixels: about two 8-pixel patches


def affine_fit(model: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``model`` pixels ``(N, 3)`` through the least-squares colour-affine map onto ``reference``'s."""
    x = np.concatenate([model, np.ones((len(model), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(x, reference, rcond=None)
    return x @ coef


def error_split(model: np.ndarray, reference: np.ndarray, segmentation: np.ndarray) -> dict[str, float]:
    """Mean squared errors (0–255 scale) of one clip, ``(T, H, W, 3)`` uint8 each, ``segmentation (T, H, W)``."""
    from scipy.ndimage import uniform_filter

    out, ref = model.astype(np.float64), reference.astype(np.float64)
    frame_fit, body_fit = np.empty_like(out), np.empty_like(out)
    for t in range(len(out)):
        frame_fit[t] = affine_fit(out[t].reshape(-1, 3), ref[t].reshape(-1, 3)).reshape(out[t].shape)
        for body in np.unique(segmentation[t]):
            where = segmentation[t] == body
            body_fit[t][where] = affine_fit(out[t][where], ref[t][where])
    err = out - ref
    low = np.stack([uniform_filter(e, size=(BLUR, BLUR, 1), mode="reflect") for e in err])
    return {"raw": float(np.mean(err**2)), "frame_affine": float(np.mean((frame_fit - ref) ** 2)),
            "body_affine": float(np.mean((body_fit - ref) ** 2)), "low_pass": float(np.mean(low**2)),
            "high_pass": float(np.mean((err - low) ** 2))}


def main(argv: list[str] | None = None) -> dict:
    from benchmarks.eval_clips import add_arguments, eval_clips
    from worldsim.metrics import psnr_of_mse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, OUT)
    args = parser.parse_args(argv)
    rows = []
    for i, (scene_seed, clip, model, reference) in enumerate(eval_clips(args)):
        rows.append({"scene_seed": scene_seed, **error_split(model, reference, clip["segmentation"])})
        print(f"clip {i}: " + ", ".join(f"{k} {psnr_of_mse(v):.2f}" for k, v in rows[-1].items() if k != "scene_seed"),
              flush=True)
    keys = [k for k in rows[0] if k != "scene_seed"]
    pooled = {k: psnr_of_mse(float(np.mean([r[k] for r in rows]))) for k in keys}
    print("pooled PSNR (dB): " + ", ".join(f"{k} {v:.2f}" for k, v in pooled.items()))
    report = {"checkpoint": args.checkpoint, "resolution": args.resolution, "frames": args.frames, "split": args.split,
              "pooled_psnr": pooled, "clips_mse": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "error_split.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
