"""How much of the learned renderer's error sits where a glossy surface mirrors another body on screen.

Run: ``python benchmarks/reflection_hotspots.py [--checkpoint cycles] [--seed 3] [--clips 8]
[--resolution 256] [--frames 8] [--split train]``, on the clips ``worldsim eval`` scores with the same
arguments (their Cycles frames come from the reference cache when eval drew them before).

For every pixel it marches the mirrored view ray through the frame's maps
(:mod:`worldsim.conditioning.screen_reflection`) and prints, per clip and pooled, the share of pixels
whose ray meets a body on screen and their share of the squared error against Cycles, beside a
control: pixels within 16 pixels of a body (not the floor), not on one, whose ray meets nothing. A
hotspot share well above its pixel share, and above the control's, says what the renderer does not
know there is what those pixels mirror, which the renderer is not given (it reads the sun and the sky
only). Writes ``benchmarks/results/reflection_hotspots.json`` and ``reflection_hotspots.png``
(reference | model | what each pixel mirrors, the clip with the largest hotspot share, first frame).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks.eval_clips

OUT = Path(__file__).resolve().parent / "results"
NEAR_BODY = 16  # pixels: the control ring around bodies


def mirrored_pixels(clip: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``hit (T, H, W)`` and what each pixel mirrors, ``(T, H, W, 3) uint8`` albedo (black where nothing)."""
    from worldsim.conditioning.screen_reflection import screen_reflection

    def t(key, dtype=np.float32):
        return torch.from_numpy(np.ascontiguousarray(clip[key], dtype=dtype))
    hit, row, col = screen_reflection(t("world_position"), t("normals"), t("segmentation", np.int64),
                                      t("extrinsics"), t("intrinsics"))
    hit, row, col = hit.numpy(), row.numpy(), col.numpy()
    frame = np.arange(hit.shape[0])[:, None, None]
    return hit, np.where(hit[..., None], clip["albedo"][frame, row, col], 0).astype(np.uint8)


def shares(error: np.ndarray, hit: np.ndarray, segmentation: np.ndarray) -> dict[str, float]:
    """Pixel and error shares of the mirrored-body pixels and of the control ring, for one clip."""
    from scipy.ndimage import binary_dilation

    bodies = segmentation > 0  # 0 is the floor
    ring = np.stack([binary_dilation(b, iterations=NEAR_BODY) for b in bodies]) & ~bodies & ~hit
    total = float(error.sum()) or 1.0
    return {"hit_pixels": float(hit.mean()), "hit_error": float(error[hit].sum()) / total,
            "control_pixels": float(ring.mean()), "control_error": float(error[ring].sum()) / total}


def main(argv: list[str] | None = None) -> dict:
    from PIL import Image

    from benchmarks.eval_clips import add_arguments, eval_clips

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, OUT, seed=3, seed_help="as worldsim eval's --seed (default 3: not a reported set)")
    args = parser.parse_args(argv)
    rows, errors, pictures = [], [], []
    for i, (_, clip, model, reference) in enumerate(eval_clips(args)):
        error = ((reference.astype(np.float64) - model) ** 2).sum(-1)
        hit, mirrored = mirrored_pixels(clip)
        rows.append(shares(error, hit, clip["segmentation"]))
        errors.append((error, hit, rows[-1]))
        pictures.append(np.concatenate([reference[0], model[0], mirrored[0]], axis=1))
        print(f"clip {i}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()), flush=True)
    total = sum(float(e.sum()) for e, _, _ in errors) or 1.0
    pixels = sum(h.size for _, h, _ in errors)
    pooled = {"hit_pixels": sum(r["hit_pixels"] * h.size for _, h, r in errors) / pixels,
              "hit_error": sum(r["hit_error"] * float(e.sum()) for e, _, r in errors) / total,
              "control_pixels": sum(r["control_pixels"] * h.size for _, h, r in errors) / pixels,
              "control_error": sum(r["control_error"] * float(e.sum()) for e, _, r in errors) / total}
    print("pooled: " + ", ".join(f"{k} {v:.3f}" for k, v in pooled.items()))
    report = {"checkpoint": args.checkpoint, "resolution": args.resolution, "frames": args.frames, "split": args.split,
              "seed": args.seed, "pooled": pooled, "clips": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reflection_hotspots.json").write_text(json.dumps(report, indent=2))
    Image.fromarray(pictures[int(np.argmax([r["hit_error"] for r in rows]))]).save(args.out / "reflection_hotspots.png")
    return report


if __name__ == "__main__":
    main()
