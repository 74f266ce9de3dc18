"""The clips ``worldsim eval`` scores, with the default's frames and Cycles', for the benchmarks that
look inside them (``error_split.py``, ``reflection_hotspots.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser, out: Path, seed: int = 0,
                  seed_help: str = "as worldsim eval's --seed") -> None:
    """The options that pick the clips and the renderer, as ``worldsim eval`` names them, and ``--out``."""
    parser.add_argument("--checkpoint", default="cycles")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--split", default="train", choices=["train", "heldout"])
    parser.add_argument("--seed", type=int, default=seed, help=seed_help)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"],
                        help="the model's precision (default fp32: every published figure's, comparable across stages)")


def eval_clips(args: argparse.Namespace) -> Iterator[tuple[int, dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    """Per clip of the eval the options name: ``(scene seed, condition arrays, model frames, Cycles frames)``,
    the frames ``(T, H, W, 3) uint8`` (Cycles' from the reference cache when eval drew them before)."""
    from worldsim.conditioning.arrays import from_frames
    from worldsim.evaluate import eval_scene
    from worldsim.render import Renderer

    renderer = Renderer(args.checkpoint, precision=args.precision)
    for i in range(args.clips):  # worldsim eval's clips
        scene_seed, spec, rec = eval_scene(i, args.frames, args.resolution, renderer.teacher, args.split, args.seed,
                                           map_pass=renderer.map_pass)
        clip = from_frames(spec, rec.frames)
        yield scene_seed, clip, renderer.render_clip(clip, seed=args.seed + i), np.stack([f.rgb for f in rec.frames])
