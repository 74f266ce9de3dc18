"""``worldsim train``: its options, a checkpoint's recipe as their defaults, and the command."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from worldsim.cli_options import checked, factors, fraction, positive, precision_option


def context_prob(args: argparse.Namespace) -> float:
    """``--context-prob``, else 1 for the pure-video model (it cannot start from nothing) and 0.5 for the hybrid."""
    if args.context_prob is not None:
        return args.context_prob
    return 1.0 if args.pure_video else 0.5


def cmd_train(args: argparse.Namespace) -> None:
    """Train a renderer on a dataset."""
    from worldsim.train import TrainConfig, train

    cfg = TrainConfig(data=str(args.data), out=str(args.out), preset=args.preset, steps=args.steps, batch=args.batch,
                      lr=args.lr, warmup=args.warmup, ema=args.ema, seed=args.seed, device=args.device,
                      physics=not args.pure_video,
                      checkpoint_every=args.checkpoint_every,
                      # the DIAMOND/GameNGen recipe: several context frames, always given (noise-augmented)
                      context_frames=4 if args.pure_video else 1, context_prob=context_prob(args),
                      pbr=args.look == "cycles", init=args.init, new_lr=args.new_lr, crop=args.crop, max_minutes=args.minutes,
                      loss_weighting=args.loss_weighting, token_features=args.token_features,
                      output=args.output, mean_start=args.mean_start, head_blend=args.head_blend, depth=args.depth,
                      clipped_loss=args.clipped_loss, ripple_weight=args.ripple_weight, pbr_channels=args.pbr_channels,
                      frame_summary=args.frame_summary,
                      colour_permutation=args.colour_permutation, light_gain=args.light_gain,
                      downscale=args.downscale, downscale_factors=args.downscale_factors,
                      precision=args.precision, data_cache=None if args.data_cache is None else str(args.data_cache))
    metrics = train(cfg, resume=args.resume)
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"trained {args.steps} steps -> {args.out}/checkpoint.safetensors; " +
              ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if isinstance(v, float)))


def recipe_defaults_of(args: argparse.Namespace) -> dict:
    """The train options ``--recipe`` names (:func:`worldsim.recipe.recipe_defaults`), none without it."""
    if args.recipe is None:
        return {}
    from worldsim.recipe import recipe_defaults

    return recipe_defaults(args.recipe)


def add_train_parser(sub) -> None:
    """The ``train`` subcommand and its options on ``sub`` (the subparsers of :func:`worldsim.cli.build_parser`)."""
    tr = sub.add_parser("train", help="train a renderer (runs under torchrun for DDP)")
    tr.add_argument("--data", type=Path, required=True, help="dataset directory")
    tr.add_argument("--data-cache", type=Path, default=None,
                    help="memory-map the dataset from uncompressed copies kept in this directory (made, or brought "
                         "up to date with new shards, first) instead of loading it into RAM: for a dataset larger "
                         "than memory; the same values, so the same training (default: load into RAM)")
    tr.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, samples, metrics)")
    tr.add_argument("--preset", default="small", help="model size: tiny, small, base, large (default small)")
    tr.add_argument("--steps", type=positive(int), default=1000, help="optimizer steps (default 1000)")
    tr.add_argument("--batch", type=positive(int), default=8, help="clips per step, split over DDP ranks (default 8)")
    tr.add_argument("--lr", type=positive(float), default=5e-4, help="peak learning rate (default 5e-4)")
    tr.add_argument("--warmup", type=checked(int, lambda v: v >= 0, ">= 0"), default=50,
                    help="steps of linear warmup before the cosine decay (default 50)")
    tr.add_argument("--ema", type=checked(float, lambda v: 0 <= v < 1, "from 0 to below 1"), default=0.995,
                    help="decay of the weights' moving average the checkpoint holds (default 0.995)")
    tr.add_argument("--recipe", default=None, metavar="CHECKPOINT",
                    help="take every option of how to train (preset, batch, rate, losses, augmentations, look, "
                         "architecture) from this checkpoint's JSON (a path or a shipped name: cycles trains as the "
                         "default was trained); options given here still win; data, steps, seed and --init are the run's")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--checkpoint-every", type=positive(int), default=200, help="steps between checkpoints (default 200)")
    tr.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out")
    tr.add_argument("--pure-video", action=argparse.BooleanOptionalAction, default=False,
                    help="train the pure-video baseline: no physics maps, 4 context frames")
    tr.add_argument("--look", choices=["tiny", "cycles"], default="tiny",
                    help="cycles: also condition on surfaces and lighting (needs a `--teacher cycles` dataset)")
    tr.add_argument("--init", default=None, help="start from this checkpoint's weights (path or name), same preset and look")
    tr.add_argument("--new-lr", type=positive(float), default=None,
                    help="peak learning rate of the parameters --init did not supply (new blocks from --depth, new "
                         "output layers), on the same schedule (default: --lr); a fine-tune's rate barely opens new blocks")
    tr.add_argument("--token-features", type=int, default=None,
                    help="features each token hands the per-pixel head, bilinear between token centres (default: "
                         "the preset's, 0; --init widens a checkpoint without them exactly)")
    tr.add_argument("--output", choices=["rgb", "shading"], default=None,
                    help="what the network predicts: rgb (the frame) or shading (a gain and offset per pixel on "
                         "the albedo and the world's colour, in linear light); default: the resumed run's, else rgb")
    tr.add_argument("--head-blend", choices=["patch", "tent"], default=None,
                    help="how tokens' outputs become pixels: patch (each token its own p×p patch) or tent (2p×2p, "
                         "blended linearly into the neighbours: no steps at patch borders); default: the resumed "
                         "run's, else patch; --init turns a patch head into a tent head")
    tr.add_argument("--depth", type=positive(int), default=None,
                    help="transformer blocks (default: the preset's, or the resumed run's); with --init, blocks "
                         "beyond the checkpoint's start as identities, so the deeper model first renders as it did")
    tr.add_argument("--pbr-channels", type=positive(int), default=None,
                    help="how many of the Cycles look's per-pixel inputs the model reads, in their order (default: "
                         "all, or the resumed run's); fewer trains a control without the newest inputs")
    tr.add_argument("--frame-summary", action=argparse.BooleanOptionalAction, default=None,
                    help="give every block after the first the mean of the frame's tokens through adaLN, so a "
                         "token knows the whole frame beyond its windows (default: off, or the resumed run's; "
                         "--init adds it to a checkpoint without it exactly)")
    tr.add_argument("--crop", type=positive(int), default=None,
                    help="train on random CROPxCROP windows of the frames (default: whole frames)")
    tr.add_argument("--minutes", type=positive(float), default=None,
                    help="stop (with a checkpoint) after this many minutes, even before --steps (a GPU window)")
    tr.add_argument("--loss-weighting", choices=["clean", "velocity"], default="clean",
                    help="clean (default): the clean-frame error, every flow time weighing the same (what a 1-2 step "
                         "sampler needs); velocity: the flow-matching loss (weights times near 1 up to 400x)")
    tr.add_argument("--mean-start", type=fraction, default=0.0,
                    help="fraction of windows trained at flow time 0 from zero noise: exactly a 1-step, temperature-0 "
                         "render, the shipped sampling (default 0: only the flow's own draws)")
    tr.add_argument("--clipped-loss", action=argparse.BooleanOptionalAction, default=False,
                    help="a prediction beyond a target at the end of the code range (0 or 255, e.g. an over-exposed "
                         "surface) scores as the clamped frame shown: no exact 255 to hit there (clean weighting)")
    tr.add_argument("--ripple-weight", type=float, default=0.0,
                    help="extra weight on the error that repeats with the patch grid (the faint grid tents leave on "
                         "plain surfaces; worldsim eval's patch_ripple): it counts 1 + this many times (default 0)")
    tr.add_argument("--colour-permutation", type=fraction, default=0.0,
                    help="fraction of windows whose colour inputs and frames swap their R, G, B channels together, "
                         "an exact symmetry of both teachers (default 0)")
    tr.add_argument("--light-gain", type=fraction, default=0.0,
                    help="fraction of windows whose lights (sun, sky, area lights) take random per-channel gains, "
                         "0.74x to 1.35x, the frames following as Cycles' would (--look cycles; default 0)")
    tr.add_argument("--downscale", type=fraction, default=0.0,
                    help="fraction of batches shown at a coarser scale: crops --downscale-factors times wider, "
                         "downscaled (maps sampled, frames filtered in linear light), so the model also learns the "
                         "small bodies of 64-128 px renders from 256 px data (default 0)")
    tr.add_argument("--downscale-factors", type=factors, default=(2, 4),
                    help="comma-separated even factors, one drawn per coarser batch (default 2,4)")
    tr.add_argument("--context-prob", type=fraction, default=None,
                    help="fraction of windows shown the frame before them (default 0.5; 1 with --pure-video); 0 trains "
                         "only what a renderer without feedback (sampling_feedback false) draws")
    precision_option(tr)
    # main() parses once more with these defaults, so options given on the command line still win
    tr.set_defaults(func=cmd_train, parser=tr, defaults_from=recipe_defaults_of)
