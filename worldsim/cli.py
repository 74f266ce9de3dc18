"""The ``worldsim`` command line. Every failure the user can fix prints one line and exits 2."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from worldsim.errors import WorldsimError


def _resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 128x128, got {text!r}") from None
    if not (8 <= w <= 4096 and 8 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"resolution must be between 8 and 4096 per side, got {text!r}")
    return w, h


def _checked(kind, valid, requirement: str):
    """An argparse type: ``kind(text)`` if ``valid`` holds for it, else an error saying ``requirement``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value
    return parse


def _positive(kind):
    return _checked(kind, lambda v: v > 0, "> 0")


_fraction = _checked(float, lambda v: 0 <= v <= 1, "from 0 to 1")


def _factors(text: str) -> tuple[int, ...]:
    """``2,4`` -> (2, 4): downscale factors (:func:`worldsim.conditioning.downscale.check_factors`)."""
    from worldsim.conditioning.downscale import check_factors

    try:
        return check_factors(tuple(int(part) for part in text.split(",")))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated even integers of 2 or more, such as 2,4; "
                                         f"got {text!r} ({err})") from None


def _shards(text: str) -> tuple[int, int | None]:
    """``START:STOP`` or ``START:`` (to the end), shard indices as Python slices count them."""
    start, sep, stop = text.partition(":")
    if sep:
        try:
            return int(start), int(stop) if stop else None
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected START:STOP or START:, e.g. 192:256, got {text!r}")


def cmd_simulate(args: argparse.Namespace) -> None:
    """Simulate a scene and write state.npz, maps.npz and reference.mp4."""
    from worldsim.recording import rollout, save_recording
    from worldsim.scene import load_scene, sample

    spec = sample(load_scene(args.scene), args.seed)
    if args.camera is not None:
        spec.camera(args.camera)  # fail early, before simulating, on a wrong camera name
    frames = None if args.seconds is None else int(args.seconds * spec.sim.fps) + 1
    start = time.perf_counter()
    rec = rollout(spec, seed=args.seed, frames=frames, camera=args.camera, resolution=args.resolution, progress=True,
                  teacher=args.teacher, cycles=_cycles_options(args))
    paths = save_recording(rec, args.out)
    took = time.perf_counter() - start
    h, w = rec.frames[0].rgb.shape[:2]
    print(f"{spec.name}: {len(rec.states)} frames, {len(spec.bodies)} bodies, {w}x{h}, {took:.1f}s "
          f"-> {', '.join(str(p) for p in paths.values())}")


def _cycles_options(args: argparse.Namespace):
    """Cycles settings from the command line (None for the TinyRenderer teacher); fails early without bpy."""
    if args.teacher != "cycles":
        return None
    from worldsim.teacher.cycles import CyclesOptions, check_bpy

    check_bpy()
    return CyclesOptions(samples=args.samples, denoise=not args.no_denoise)


def _teacher_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", choices=["tiny", "cycles"], default="tiny",
                        help="reference renderer: PyBullet's TinyRenderer (default) or Blender Cycles (needs worldsim[cycles])")
    parser.add_argument("--samples", type=_positive(int), default=32, help="Cycles samples per pixel (default 32)")
    parser.add_argument("--no-denoise", action="store_true", help="turn off Cycles' OpenImageDenoise pass")


def cmd_dataset(args: argparse.Namespace) -> None:
    """Generate (or resume) paired training data."""
    from worldsim.dataset import generate

    generate(args.out, frames=args.frames, resolution=args.resolution, workers=args.workers, seed=args.seed,
             ray_address=args.ray_address, teacher=args.teacher, samples=args.samples, denoise=not args.no_denoise,
             frames_per_clip=args.frames_per_clip, clips_per_shard=args.clips_per_shard, split=args.split,
             shards=args.shards)


def _context_prob(args: argparse.Namespace) -> float:
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
                      context_frames=4 if args.pure_video else 1, context_prob=_context_prob(args),
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


def cmd_pack(args: argparse.Namespace) -> None:
    """Compress a dataset for a GPU window."""
    from worldsim.pack import pack

    indexes = pack(args.data, args.out, args.max_mib, parts=args.parts)
    for i, index in enumerate(indexes):
        frames = sum(s["arrays"]["rgb"]["shape"][0] * s["arrays"]["rgb"]["shape"][1] for s in index["shards"])
        where = args.out if args.parts == 1 else args.out / f"part{i}"
        print(f"packed {len(index['shards'])} shards ({frames} frames): {index['bytes'] / 2**20:.1f} MiB "
              f"from {index['source_bytes'] / 2**20:.1f} MiB -> {where}")


def cmd_average(args: argparse.Namespace) -> None:
    """Average two checkpoints' weights."""
    from worldsim.average import average_checkpoints

    average_checkpoints(args.a, args.b, args.weight, args.out)
    print(f"{1 - args.weight:g} x {args.a} + {args.weight:g} x {args.b} -> {args.out}")


def cmd_render(args: argparse.Namespace) -> None:
    """Render a scene with the learned renderer beside the reference (or alone, ``--reference none``)."""
    from worldsim.io import save_npz
    from worldsim.recording import rollout
    from worldsim.render import Renderer
    from worldsim.scene import load_scene, sample
    from worldsim.video import write_mp4

    spec = sample(load_scene(args.scene), args.seed)
    if args.camera is not None:
        spec.camera(args.camera)
    renderer = Renderer(args.checkpoint or args.look, device=args.device, steps=args.steps, precision=args.precision,
                        temperature=args.temperature, feedback=args.feedback)
    teacher = _reference_teacher(renderer, args.reference)
    seconds = args.seconds if args.seconds is not None else spec.sim.duration
    frames = int(seconds * spec.sim.fps) + 1
    width, height = args.resolution or tuple(spec.camera(args.camera).resolution)
    named = {"cycles": "Cycles", "tiny": "TinyRenderer", "none": "none, the learned frames alone"}[teacher]
    print(f"simulating {spec.name}: {frames} frames at {width}x{height}, {renderer.look} look (reference: {named})")
    rec = rollout(spec, seed=args.seed, frames=frames, camera=args.camera, resolution=(width, height), teacher=teacher,
                  progress=True, map_pass=renderer.map_pass)
    start = time.perf_counter()
    model = renderer.render(spec, rec.frames, seed=args.seed, progress=True)
    took = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fps, upscale = spec.sim.fps, max(1, 256 // max(width, height))
    write_mp4(out / "model.mp4", model, fps, upscale=upscale)
    speed = (f"{spec.name}: {frames} frames in {took:.1f}s ({frames / took:.1f} frames/s, {renderer.steps} steps, "
             f"temperature {renderer.temperature:g}, {renderer.precision})")
    if teacher == "none":
        save_npz(out / "frames.npz", model=model)
        print(f"{speed} -> {out}")
    else:
        print(f"{speed} | {_write_comparison(out, model, rec, spec, upscale)} -> {out}")


def _write_comparison(out: Path, model, rec, spec, upscale: int) -> str:
    """Write the reference, the side-by-side video and both clips' frames; returns the metrics line."""
    import numpy as np

    from worldsim.evaluate import floor_bodies
    from worldsim.io import save_npz
    from worldsim.metrics import clip_metrics
    from worldsim.video import write_mp4

    maps = rec.map_arrays()
    reference = maps["rgb"]
    diff = np.clip(np.abs(model.astype(np.int16) - reference.astype(np.int16)) * 3, 0, 255).astype(np.uint8)
    write_mp4(out / "reference.mp4", reference, spec.sim.fps, upscale=upscale)
    write_mp4(out / "side_by_side.mp4", np.concatenate([reference, model, diff], axis=2), spec.sim.fps, upscale=upscale)
    save_npz(out / "frames.npz", model=model, reference=reference)
    m = clip_metrics(model, reference, maps["albedo"], maps["segmentation"], floor_bodies(spec))["summary"]
    return (f"PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.3f}, fg IoU {m['iou']:.3f} (reference {m['reference_iou']:.3f}), "
            f"flicker {m['flicker']:.4f} (reference {m['reference_flicker']:.4f}), "
            f"colour drift {m['colour_drift']:.1f} (reference {m['reference_colour_drift']:.1f})")


def _reference_teacher(renderer, choice: str = "auto") -> str:
    """The teacher of the reference a render is compared with: ``choice``, or for ``auto`` Cycles for
    the Cycles look when bpy is installed, else TinyRenderer. ``none`` draws no reference."""
    if choice in ("tiny", "none"):
        return choice
    from worldsim.teacher.cycles import TeacherUnavailable, check_bpy

    if choice == "cycles":
        check_bpy()  # asked for by name: its absence is the user's error, said plainly
        return "cycles"
    if renderer.teacher != "cycles":
        return "tiny"
    try:
        check_bpy()
        return "cycles"
    except TeacherUnavailable:
        print("note: bpy is not installed, so the reference (and the metrics) are TinyRenderer's, not Cycles' "
              "(pip install 'worldsim[cycles]' for the path-traced reference; --reference none skips it)")
        return "tiny"


def cmd_eval(args: argparse.Namespace) -> None:
    """Evaluate a checkpoint on held-out random scenes."""
    from worldsim.evaluate import evaluate
    from worldsim.render import Renderer

    renderer = Renderer(args.checkpoint, device=args.device, steps=args.steps, temperature=args.temperature,
                        feedback=args.feedback, precision=args.precision)
    report = evaluate(renderer, args.out, clips=args.clips, frames=args.frames, seed=args.seed, teacher=args.teacher,
                      resolution=args.resolution, split=args.split, cache_references=not args.fresh_references,
                      teacher_forcing=args.teacher_forcing)
    o = report["overall"]
    print(f"{'metric':<28}{'value':>10}")
    for key, value in o.items():
        print(f"{key:<28}{value:>10.4f}")
    print(f"{'surface':<18}{'PSNR':>8}{'pixels':>9}{'error':>9}")
    for name, s in report["by_surface"].items():
        print(f"{name:<18}{s['psnr']:>8.2f}{s['pixel_share']:>9.1%}{s['error_share']:>9.1%}")
    print(f"-> {args.out}/metrics.json, {args.out}/metrics.png")


def _value(text: str):
    """A sweep value: YAML syntax, so 0.3, true and [1, 0, 0] all work."""
    import yaml

    return yaml.safe_load(text)


def cmd_sweep(args: argparse.Namespace) -> None:
    """Sweep one parameter of a scene; write a table, a plot and the clips side by side."""
    from worldsim.experiments import save_sweep, sweep
    from worldsim.scene import load_scene

    spec = load_scene(args.scene)
    render = None if args.render == "none" else args.render
    result = sweep(spec, args.param, [_value(v) for v in args.values], args.outcome, seed=args.seed,
                   seconds=args.seconds, render=render, progress=True)
    paths = save_sweep(result, args.out, fps=spec.sim.fps)
    print(result.markdown())
    print("-> " + ", ".join(str(p) for p in paths))


def cmd_experiment(args: argparse.Namespace) -> None:
    """The long-horizon drift experiment: hybrid renderer vs a pure-video baseline."""
    from worldsim.drift import markdown, run_drift
    from worldsim.render import Renderer

    models = {"hybrid": Renderer(args.checkpoint or "raster", device=args.device, steps=args.steps),
              "pure-video": Renderer(str(args.baseline), device=args.device, steps=args.steps)}
    report = run_drift(models, args.out, tuple(args.horizons), clips=args.clips, seed=args.seed)
    print(markdown(report["table"], tuple(args.horizons)))
    print(f"-> {args.out}/drift.json, drift.md, drift.png, side_by_side.mp4")


def _sampling_options(sub: argparse.ArgumentParser) -> None:
    """``--steps`` and ``--temperature``, whose defaults are the checkpoint's own (see ``Renderer``)."""
    sub.add_argument("--steps", type=_positive(int), default=None,
                     help="sampling steps (default: the checkpoint's own, sampling_steps in its JSON, else 4)")
    sub.add_argument("--temperature", type=float, default=None,
                     help="starting-noise scale, 0 to 2 (default: the checkpoint's own, else 1; 0: the mean image)")
    sub.add_argument("--feedback", action=argparse.BooleanOptionalAction, default=None,
                     help="condition each window on the model's own frames before it (default: the checkpoint's "
                          "own, sampling_feedback in its JSON, else on)")


def _precision_option(sub: argparse.ArgumentParser) -> None:
    """``--precision``: the model's matrix products in fp32 or bf16 autocast, or auto."""
    sub.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="bf16: matrix products in bfloat16, fast on GPUs and on CPUs with native bf16 "
                          "(AVX512-BF16, AMX); frames within a few 8-bit levels of fp32's. auto (default): "
                          "bf16 where the device has it natively, else fp32")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="worldsim", description="Physics-conditioned world-model simulator.")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="simulate a scene; write state.npz, maps.npz, reference.mp4")
    sim.add_argument("scene", type=Path, help="scene YAML file")
    sim.add_argument("--out", type=Path, required=True, help="output directory")
    sim.add_argument("--seed", type=int, default=0, help="seed for randomized fields (default 0)")
    sim.add_argument("--seconds", type=_positive(float), default=None, help="override the scene's duration")
    sim.add_argument("--camera", default=None, help="camera name (default: the scene's first)")
    sim.add_argument("--resolution", type=_resolution, default=None, help="WxH (default: the camera's)")
    _teacher_arguments(sim)
    sim.set_defaults(func=cmd_simulate)

    data = sub.add_parser("dataset", help="generate paired training clips (resumes where it stopped)")
    data.add_argument("--out", type=Path, required=True, help="dataset directory")
    data.add_argument("--frames", type=_positive(int), required=True, help="total frames to generate")
    data.add_argument("--resolution", type=_positive(int), default=64, help="square resolution (default 64)")
    data.add_argument("--workers", type=_positive(int), default=None, help="processes (default: all cores)")
    data.add_argument("--ray-address", default=None,
                      help="fan shards out over Ray: auto (this node's cluster), local, or host:port (default: local processes)")
    data.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    data.add_argument("--frames-per-clip", type=_positive(int), default=24, help="frames per clip (default 24)")
    data.add_argument("--clips-per-shard", type=_positive(int), default=8, help="clips per shard file (default 8)")
    data.add_argument("--split", choices=["train", "heldout"], default="train",
                      help="scene assets: train, or heldout (meshes, URDFs, textures and hues train never uses)")
    data.add_argument("--shards", type=_shards, default=None,
                      help="make only shards START:STOP (or START: to the end) of the dataset --frames sizes; "
                           "a shard depends only on the seed and its index, so machines or sessions can split the work")
    _teacher_arguments(data)
    data.set_defaults(func=cmd_dataset)

    tr = sub.add_parser("train", help="train a renderer (runs under torchrun for DDP)")
    tr.add_argument("--data", type=Path, required=True, help="dataset directory")
    tr.add_argument("--data-cache", type=Path, default=None,
                    help="memory-map the dataset from uncompressed copies kept in this directory (made, or brought "
                         "up to date with new shards, first) instead of loading it into RAM: for a dataset larger "
                         "than memory; the same values, so the same training (default: load into RAM)")
    tr.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, samples, metrics)")
    tr.add_argument("--preset", default="small", help="model size: tiny, small, base, large (default small)")
    tr.add_argument("--steps", type=_positive(int), default=1000, help="optimizer steps (default 1000)")
    tr.add_argument("--batch", type=_positive(int), default=8, help="clips per step, split over DDP ranks (default 8)")
    tr.add_argument("--lr", type=_positive(float), default=5e-4, help="peak learning rate (default 5e-4)")
    tr.add_argument("--warmup", type=_checked(int, lambda v: v >= 0, ">= 0"), default=50,
                    help="steps of linear warmup before the cosine decay (default 50)")
    tr.add_argument("--ema", type=_checked(float, lambda v: 0 <= v < 1, "from 0 to below 1"), default=0.995,
                    help="decay of the weights' moving average the checkpoint holds (default 0.995)")
    tr.add_argument("--recipe", default=None, metavar="CHECKPOINT",
                    help="take every option of how to train (preset, batch, rate, losses, augmentations, look, "
                         "architecture) from this checkpoint's JSON (a path or a shipped name: cycles trains as the "
                         "default was trained); options given here still win; data, steps, seed and --init are the run's")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--checkpoint-every", type=_positive(int), default=200, help="steps between checkpoints (default 200)")
    tr.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out")
    tr.add_argument("--pure-video", action=argparse.BooleanOptionalAction, default=False,
                    help="train the pure-video baseline: no physics maps, 4 context frames")
    tr.add_argument("--look", choices=["tiny", "cycles"], default="tiny",
                    help="cycles: also condition on surfaces and lighting (needs a `--teacher cycles` dataset)")
    tr.add_argument("--init", default=None, help="start from this checkpoint's weights (path or name), same preset and look")
    tr.add_argument("--new-lr", type=_positive(float), default=None,
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
    tr.add_argument("--depth", type=_positive(int), default=None,
                    help="transformer blocks (default: the preset's, or the resumed run's); with --init, blocks "
                         "beyond the checkpoint's start as identities, so the deeper model first renders as it did")
    tr.add_argument("--pbr-channels", type=_positive(int), default=None,
                    help="how many of the Cycles look's per-pixel inputs the model reads, in their order (default: "
                         "all, or the resumed run's); fewer trains a control without the newest inputs")
    tr.add_argument("--frame-summary", action=argparse.BooleanOptionalAction, default=None,
                    help="give every block after the first the mean of the frame's tokens through adaLN, so a "
                         "token knows the whole frame beyond its windows (default: off, or the resumed run's; "
                         "--init adds it to a checkpoint without it exactly)")
    tr.add_argument("--crop", type=_positive(int), default=None,
                    help="train on random CROPxCROP windows of the frames (default: whole frames)")
    tr.add_argument("--minutes", type=_positive(float), default=None,
                    help="stop (with a checkpoint) after this many minutes, even before --steps (a GPU window)")
    tr.add_argument("--loss-weighting", choices=["clean", "velocity"], default="clean",
                    help="clean (default): the clean-frame error, every flow time weighing the same (what a 1-2 step "
                         "sampler needs); velocity: the flow-matching loss (weights times near 1 up to 400x)")
    tr.add_argument("--mean-start", type=_fraction, default=0.0,
                    help="fraction of windows trained at flow time 0 from zero noise: exactly a 1-step, temperature-0 "
                         "render, the shipped sampling (default 0: only the flow's own draws)")
    tr.add_argument("--clipped-loss", action=argparse.BooleanOptionalAction, default=False,
                    help="a prediction beyond a target at the end of the code range (0 or 255, e.g. an over-exposed "
                         "surface) scores as the clamped frame shown: no exact 255 to hit there (clean weighting)")
    tr.add_argument("--ripple-weight", type=float, default=0.0,
                    help="extra weight on the error that repeats with the patch grid (the faint grid tents leave on "
                         "plain surfaces; worldsim eval's patch_ripple): it counts 1 + this many times (default 0)")
    tr.add_argument("--colour-permutation", type=_fraction, default=0.0,
                    help="fraction of windows whose colour inputs and frames swap their R, G, B channels together, "
                         "an exact symmetry of both teachers (default 0)")
    tr.add_argument("--light-gain", type=_fraction, default=0.0,
                    help="fraction of windows whose lights (sun, sky, area lights) take random per-channel gains, "
                         "0.74x to 1.35x, the frames following as Cycles' would (--look cycles; default 0)")
    tr.add_argument("--downscale", type=_fraction, default=0.0,
                    help="fraction of batches shown at a coarser scale: crops --downscale-factors times wider, "
                         "downscaled (maps sampled, frames filtered in linear light), so the model also learns the "
                         "small bodies of 64-128 px renders from 256 px data (default 0)")
    tr.add_argument("--downscale-factors", type=_factors, default=(2, 4),
                    help="comma-separated even factors, one drawn per coarser batch (default 2,4)")
    tr.add_argument("--context-prob", type=_fraction, default=None,
                    help="fraction of windows shown the frame before them (default 0.5; 1 with --pure-video); 0 trains "
                         "only what a renderer without feedback (sampling_feedback false) draws")
    _precision_option(tr)
    tr.set_defaults(func=cmd_train, parser=tr)  # parser: main() gives it a --recipe's defaults

    pk = sub.add_parser("pack", help="compress a dataset to carry to a GPU machine (train reads it as a dataset)")
    pk.add_argument("data", type=Path, help="dataset directory")
    pk.add_argument("--out", type=Path, required=True, help="pack directory (resumes)")
    pk.add_argument("--max-mib", type=_positive(float), default=None,
                    help="stop before the pack (each part) passes this size; shards go in spread over the dataset")
    pk.add_argument("--parts", type=_positive(int), default=1,
                    help="write OUT/part0 … OUT/partN-1, each up to --max-mib, one to carry per GPU call; "
                         "--data OUT reads the parts present (default 1: OUT itself)")
    pk.set_defaults(func=cmd_pack)

    avg = sub.add_parser("average", help="average two checkpoints of one architecture (a fine-tune and its start)")
    avg.add_argument("a", help="checkpoint path or shipped name (e.g. cycles)")
    avg.add_argument("b", help="checkpoint path or shipped name; its JSON is kept")
    avg.add_argument("--weight", type=_fraction, required=True, help="B's share, 0 to 1: (1 - W) * A + W * B")
    avg.add_argument("--out", type=Path, required=True, help="output .safetensors (its .json is written beside it)")
    avg.set_defaults(func=cmd_average)

    ren = sub.add_parser("render", help="render a scene with the learned renderer (default checkpoint)")
    ren.add_argument("scene", type=Path, help="scene YAML file")
    ren.add_argument("--out", type=Path, required=True, help="output directory")
    ren.add_argument("--seed", type=int, default=0)
    _sampling_options(ren)
    ren.add_argument("--seconds", type=_positive(float), default=None, help="override the scene's duration")
    ren.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the one of --look)")
    ren.add_argument("--look", choices=["cycles", "raster"], default="cycles",
                     help="shipped renderer: cycles (the path-traced look, default) or raster (TinyRenderer's look)")
    ren.add_argument("--resolution", type=_resolution, default=None, help="WxH, any size (default: the camera's)")
    ren.add_argument("--camera", default=None, help="camera name (default: the scene's first)")
    ren.add_argument("--reference", choices=["auto", "cycles", "tiny", "none"], default="auto",
                     help="what the learned frames are shown beside and scored against: auto (default: Cycles for "
                          "the Cycles look when bpy is installed, else TinyRenderer), cycles, tiny, or none (no "
                          "reference: model.mp4 and frames.npz only, at the learned renderer's own speed; a path-"
                          "traced reference costs seconds a frame)")
    ren.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    _precision_option(ren)
    ren.set_defaults(func=cmd_render)

    ev = sub.add_parser("eval", help="evaluate a checkpoint on held-out random scenes")
    ev.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the shipped one)")
    ev.add_argument("--out", type=Path, required=True, help="output directory for metrics.json and metrics.png")
    ev.add_argument("--clips", type=_positive(int), default=6)
    ev.add_argument("--frames", type=_positive(int), default=48)
    _sampling_options(ev)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    _precision_option(ev)
    ev.add_argument("--teacher", choices=["tiny", "cycles"], default=None,
                    help="reference frames (default: the teacher the checkpoint learned from)")
    ev.add_argument("--resolution", type=_positive(int), default=None,
                    help="square size of the evaluated frames (default: the size the checkpoint trained on)")
    ev.add_argument("--split", choices=["train", "heldout"], default="train",
                    help="scene assets: unseen scenes of training assets (train), or of assets kept out of training (heldout)")
    ev.add_argument("--fresh-references", action="store_true",
                    help="path-trace the Cycles references again instead of reading them from the cache "
                         "($WORLDSIM_CACHE/references, by default ~/.cache/worldsim/references; a changed scene, "
                         "physics or teacher misses it anyway)")
    ev.add_argument("--teacher-forcing", action="store_true",
                    help="also render each clip conditioned on the reference's earlier frames; "
                         "feedback_slope_per_100_frames is then the drift the model's own frames cause")
    ev.set_defaults(func=cmd_eval)

    ex = sub.add_parser("experiment", help="the long-horizon drift experiment (hybrid vs pure video)")
    ex.add_argument("name", choices=["drift"])
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--baseline", default="pure_video",
                    help="pure-video checkpoint (worldsim train --pure-video; default: the shipped pure_video)")
    ex.add_argument("--checkpoint", default=None,
                    help="hybrid checkpoint (default: the shipped raster one, trained on the baseline's data)")
    ex.add_argument("--horizons", type=_positive(int), nargs="+", default=[16, 64, 256, 1024])
    ex.add_argument("--clips", type=_positive(int), default=2, help="held-out scenes (default 2)")
    ex.add_argument("--steps", type=_positive(int), default=2, help="sampling steps of both models (default 2)")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    ex.set_defaults(func=cmd_experiment)

    sw = sub.add_parser("sweep", help="counterfactual experiment: vary one parameter, compare outcomes")
    sw.add_argument("scene", type=Path, help="scene YAML file")
    sw.add_argument("--param", required=True, help="field path, e.g. 'bodies[block].friction'")
    sw.add_argument("--values", nargs="+", required=True, help="values to try (YAML syntax: 0.3, '[1, 0, 0]')")
    sw.add_argument("--outcome", nargs="+", required=True, help="METRIC:BODY, e.g. travel:block toppled:b4")
    sw.add_argument("--out", type=Path, required=True, help="output directory")
    sw.add_argument("--seed", type=int, default=0)
    sw.add_argument("--seconds", type=_positive(float), default=None, help="simulated time (default: the scene's)")
    sw.add_argument("--render", choices=["reference", "learned", "none"], default="reference")
    sw.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``worldsim`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "recipe", None) is not None:
            from worldsim.recipe import recipe_defaults

            # the subcommand's defaults, then the command line again: options given on it still win
            args.parser.set_defaults(**recipe_defaults(args.recipe))
            args = parser.parse_args(argv)
        args.func(args)
    except WorldsimError as exc:
        print(f"worldsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # unknown camera or body names given on the command line
        print(f"worldsim: error: {exc.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("worldsim: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
