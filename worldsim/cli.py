"""The ``worldsim`` command line. Every failure the user can fix prints one line and exits 2."""

from __future__ import annotations

import argparse
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


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value
    return parse


def cmd_simulate(args: argparse.Namespace) -> None:
    """Simulate a scene and write state.npz, maps.npz and reference.mp4."""
    from worldsim.recording import rollout, save_recording
    from worldsim.scene import load_scene, sample

    spec = sample(load_scene(args.scene), args.seed)
    if args.camera is not None:
        spec.camera(args.camera)  # fail early, before simulating, on a wrong camera name
    frames = None if args.seconds is None else int(args.seconds * spec.sim.fps) + 1
    start = time.perf_counter()
    rec = rollout(spec, seed=args.seed, frames=frames, camera=args.camera, resolution=args.resolution, progress=True)
    paths = save_recording(rec, args.out)
    took = time.perf_counter() - start
    h, w = rec.frames[0].rgb.shape[:2]
    print(f"{spec.name}: {len(rec.states)} frames, {len(spec.bodies)} bodies, {w}x{h}, {took:.1f}s "
          f"-> {', '.join(str(p) for p in paths.values())}")


def cmd_dataset(args: argparse.Namespace) -> None:
    """Generate (or resume) paired training data."""
    from worldsim.dataset import generate

    generate(args.out, frames=args.frames, resolution=args.resolution, workers=args.workers, seed=args.seed)


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
    sim.set_defaults(func=cmd_simulate)

    data = sub.add_parser("dataset", help="generate paired training clips (resumes where it stopped)")
    data.add_argument("--out", type=Path, required=True, help="dataset directory")
    data.add_argument("--frames", type=_positive(int), required=True, help="total frames to generate")
    data.add_argument("--resolution", type=_positive(int), default=64, help="square resolution (default 64)")
    data.add_argument("--workers", type=_positive(int), default=None, help="processes (default: all cores)")
    data.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    data.set_defaults(func=cmd_dataset)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``worldsim`` script."""
    args = build_parser().parse_args(argv)
    try:
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
