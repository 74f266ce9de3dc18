"""The look, side by side: TinyRenderer | Cycles | the learned renderer, on held-out scenes.

Run: ``python benchmarks/path_traced.py [--checkpoint cycles] [--resolution 256] [--clips 2] [--heldout-clips 1]
[--frames 8]`` (needs ``bpy``; the file is not named cycles.py, which would shadow Blender's own
``cycles`` add-on). Scenes: ``--clips`` random scenes of training assets never trained on (template
seeds from 10^9) and ``--heldout-clips`` scenes of assets kept out of training (``split="heldout"``:
other meshes, URDFs, textures and hues). Every frame is path traced at the teacher's settings
(32 samples, denoised) and drawn by the learned renderer from the same physics. Prints PSNR, SSIM,
ꟻLIP and the boundary-consistency score per scene, and writes ``benchmarks/results/look.json`` and
``benchmarks/results/look.png`` (one row per scene, its middle frame).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from worldsim.evaluate import HELD_OUT_SEED, reference_clip
from worldsim.metrics import consistency_pair, flip, psnr, ssim
from worldsim.render import Renderer
from worldsim.templates import random_scene

OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="cycles")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--heldout-clips", type=int, default=1)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None,
                        help="learned renderer's sampling steps (default: the checkpoint's own)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"],
                        help="the model's precision (default fp32: every published figure's, comparable across stages)")
    args = parser.parse_args(argv)
    renderer = Renderer(args.checkpoint, steps=args.steps, precision=args.precision)
    scenes = [("train", HELD_OUT_SEED + 700 + i) for i in range(args.clips)]
    scenes += [("heldout", HELD_OUT_SEED + 800 + i) for i in range(args.heldout_clips)]
    rows, strips = [], []
    for split, seed in scenes:
        spec = random_scene(seed, args.resolution, args.frames, look="cycles", split=split)
        cycles = reference_clip(spec, seed, args.frames, args.resolution, "cycles", map_pass=renderer.map_pass)
        tiny = reference_clip(spec, seed, args.frames, args.resolution, "tiny")
        learned = renderer.render(spec, cycles.frames, seed=seed)
        ref = np.stack([f.rgb for f in cycles.frames])
        consistency = np.nanmean([consistency_pair(a, f.rgb, f.albedo, f.segmentation)
                                  for a, f in zip(learned, cycles.frames, strict=True)], axis=0)
        rows.append({"split": split, "scene_seed": seed, "bodies": len(spec.bodies),
                     "psnr": psnr(learned, ref), "ssim": float(np.mean([ssim(a, b) for a, b in zip(learned, ref, strict=True)])),
                     "flip": float(np.mean([flip(a, b) for a, b in zip(learned, ref, strict=True)])),
                     "consistency": float(consistency[0]), "cycles_consistency": float(consistency[1])})
        mid = args.frames // 2
        strips.append(np.concatenate([tiny.frames[mid].rgb, ref[mid], learned[mid]], axis=1))
        r = rows[-1]
        print(f"{split:>8} {seed}: {r['bodies']} bodies | PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.3f}, "
              f"FLIP {r['flip']:.3f}, consistency {r['consistency']:.3f} (Cycles {r['cycles_consistency']:.3f})")
    args.out.mkdir(parents=True, exist_ok=True)
    import imageio.v3 as iio

    iio.imwrite(args.out / "look.png", np.concatenate(strips, axis=0))
    report = {"checkpoint": args.checkpoint, "resolution": args.resolution, "frames": args.frames, "steps": renderer.steps,
              "rows": rows}
    (args.out / "look.json").write_text(json.dumps(report, indent=2))
    print(f"-> {args.out / 'look.json'}, {args.out / 'look.png'} (rows: TinyRenderer | Cycles | learned)")
    return report


if __name__ == "__main__":
    main()
