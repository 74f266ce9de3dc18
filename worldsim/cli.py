"""The ``worldsim`` command line. Every failure the user can fix prints one line and exits 2."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from worldsim.cli_options import fraction, positive, precision_option, resolution, sampling_options, shard_range
from worldsim.cli_train import add_train_parser
from worldsim.errors import WorldsimError


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
    parser.add_argument("--samples", type=positive(int), default=32, help="Cycles samples per pixel (default 32)")
    parser.add_argument("--no-denoise", action="store_true", help="turn off Cycles' OpenImageDenoise pass")


def cmd_dataset(args: argparse.Namespace) -> None:
    """Generate (or resume) paired training data."""
    from worldsim.dataset import generate

    generate(args.out, frames=args.frames, resolution=args.resolution, workers=args.workers, seed=args.seed,
             ray_address=args.ray_address, teacher=args.teacher, samples=args.samples, denoise=not args.no_denoise,
             frames_per_clip=args.frames_per_clip, clips_per_shard=args.clips_per_shard, split=args.split,
             shards=args.shards)


def cmd_pack(args: argparse.Namespace) -> None:
    """Compress a dataset for a GPU window."""
    from worldsim.pack import pack

    for where, index in pack(args.data, args.out, args.max_mib, parts=args.parts):
        frames = sum(s["arrays"]["rgb"]["shape"][0] * s["arrays"]["rgb"]["shape"][1] for s in index["shards"])
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="worldsim", description="Physics-conditioned world-model simulator.")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="simulate a scene; write state.npz, maps.npz, reference.mp4")
    sim.add_argument("scene", type=Path, help="scene YAML file")
    sim.add_argument("--out", type=Path, required=True, help="output directory")
    sim.add_argument("--seed", type=int, default=0, help="seed for randomized fields (default 0)")
    sim.add_argument("--seconds", type=positive(float), default=None, help="override the scene's duration")
    sim.add_argument("--camera", default=None, help="camera name (default: the scene's first)")
    sim.add_argument("--resolution", type=resolution, default=None, help="WxH (default: the camera's)")
    _teacher_arguments(sim)
    sim.set_defaults(func=cmd_simulate)

    data = sub.add_parser("dataset", help="generate paired training clips (resumes where it stopped)")
    data.add_argument("--out", type=Path, required=True, help="dataset directory")
    data.add_argument("--frames", type=positive(int), required=True, help="total frames to generate")
    data.add_argument("--resolution", type=positive(int), default=64, help="square resolution (default 64)")
    data.add_argument("--workers", type=positive(int), default=None, help="processes (default: all cores)")
    data.add_argument("--ray-address", default=None,
                      help="fan shards out over Ray: auto (this node's cluster), local, or host:port (default: local processes)")
    data.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    data.add_argument("--frames-per-clip", type=positive(int), default=24, help="frames per clip (default 24)")
    data.add_argument("--clips-per-shard", type=positive(int), default=8, help="clips per shard file (default 8)")
    data.add_argument("--split", choices=["train", "heldout"], default="train",
                      help="scene assets: train, or heldout (meshes, URDFs, textures and hues train never uses)")
    data.add_argument("--shards", type=shard_range, default=None,
                      help="make only shards START:STOP (or START: to the end) of the dataset --frames sizes; "
                           "a shard depends only on the seed and its index, so machines or sessions can split the work")
    _teacher_arguments(data)
    data.set_defaults(func=cmd_dataset)

    add_train_parser(sub)

    pk = sub.add_parser("pack", help="compress a dataset to carry to a GPU machine (train reads it as a dataset)")
    pk.add_argument("data", type=Path, help="dataset directory")
    pk.add_argument("--out", type=Path, required=True, help="pack directory (resumes)")
    pk.add_argument("--max-mib", type=positive(float), default=None,
                    help="stop before the pack (each part) passes this size; shards go in spread over the dataset")
    pk.add_argument("--parts", type=positive(int), default=1,
                    help="write OUT/part0 … OUT/partN-1, each up to --max-mib, one to carry per GPU call; "
                         "--data OUT reads the parts present (default 1: OUT itself)")
    pk.set_defaults(func=cmd_pack)

    avg = sub.add_parser("average", help="average two checkpoints of one architecture (a fine-tune and its start)")
    avg.add_argument("a", help="checkpoint path or shipped name (e.g. cycles)")
    avg.add_argument("b", help="checkpoint path or shipped name; its JSON is kept")
    avg.add_argument("--weight", type=fraction, required=True, help="B's share, 0 to 1: (1 - W) * A + W * B")
    avg.add_argument("--out", type=Path, required=True, help="output .safetensors (its .json is written beside it)")
    avg.set_defaults(func=cmd_average)

    ren = sub.add_parser("render", help="render a scene with the learned renderer (default checkpoint)")
    ren.add_argument("scene", type=Path, help="scene YAML file")
    ren.add_argument("--out", type=Path, required=True, help="output directory")
    ren.add_argument("--seed", type=int, default=0)
    sampling_options(ren)
    ren.add_argument("--seconds", type=positive(float), default=None, help="override the scene's duration")
    ren.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the one of --look)")
    ren.add_argument("--look", choices=["cycles", "raster"], default="cycles",
                     help="shipped renderer: cycles (the path-traced look, default) or raster (TinyRenderer's look)")
    ren.add_argument("--resolution", type=resolution, default=None, help="WxH, any size (default: the camera's)")
    ren.add_argument("--camera", default=None, help="camera name (default: the scene's first)")
    ren.add_argument("--reference", choices=["auto", "cycles", "tiny", "none"], default="auto",
                     help="what the learned frames are shown beside and scored against: auto (default: Cycles for "
                          "the Cycles look when bpy is installed, else TinyRenderer), cycles, tiny, or none (no "
                          "reference: model.mp4 and frames.npz only, at the learned renderer's own speed; a path-"
                          "traced reference costs seconds a frame)")
    ren.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    precision_option(ren)
    ren.set_defaults(func=cmd_render)

    ev = sub.add_parser("eval", help="evaluate a checkpoint on held-out random scenes")
    ev.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the shipped one)")
    ev.add_argument("--out", type=Path, required=True, help="output directory for metrics.json and metrics.png")
    ev.add_argument("--clips", type=positive(int), default=6)
    ev.add_argument("--frames", type=positive(int), default=48)
    sampling_options(ev)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    precision_option(ev)
    ev.add_argument("--teacher", choices=["tiny", "cycles"], default=None,
                    help="reference frames (default: the teacher the checkpoint learned from)")
    ev.add_argument("--resolution", type=positive(int), default=None,
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
    ex.add_argument("--horizons", type=positive(int), nargs="+", default=[16, 64, 256, 1024])
    ex.add_argument("--clips", type=positive(int), default=2, help="held-out scenes (default 2)")
    ex.add_argument("--steps", type=positive(int), default=2, help="sampling steps of both models (default 2)")
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
    sw.add_argument("--seconds", type=positive(float), default=None, help="simulated time (default: the scene's)")
    sw.add_argument("--render", choices=["reference", "learned", "none"], default="reference")
    sw.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``worldsim`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        defaults = args.defaults_from(args) if hasattr(args, "defaults_from") else {}
        if defaults:  # a subcommand's defaults read from a file (train's --recipe): the command line still wins
            args.parser.set_defaults(**defaults)
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
