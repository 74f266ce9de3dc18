"""What memory-mapping the dataset costs a training step: windows taken from RAM against the data cache.

Run: ``python benchmarks/data_cache.py --data DATA --cache DIR [--shards 20] [--batch 4] [--crop 128]
[--rounds 20] [--train-rounds 0]``.

Loads the first ``--shards`` shards of ``DATA`` into RAM and through the cache in ``DIR``
(``worldsim train --data-cache``; made first if missing), draws the same training windows
(:func:`worldsim.windows.plan_windows`, the Cycles-look training's frames and crop) from both,
alternating round by round, and reports the median milliseconds per batch:

- ``ram``: from arrays loaded into memory (``worldsim train`` without ``--data-cache``);
- ``mapped, warm``: from the memory maps with the files in the page cache (a dataset that fits);
- ``mapped, cold``: the same after each file is dropped from the page cache (``posix_fadvise``), the
  worst case of a dataset larger than memory: every window read from disk.

With ``--train-rounds N`` it also times whole training steps (a fresh ``--preset`` model with the
Cycles look's settings of change 13), from RAM and through the cache: N rounds of five steps, the
two taking turns. It checks the windows are equal, and writes
``benchmarks/results/data_cache.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks.report

from benchmarks.report import device_line, write_report  # noqa: E402
from worldsim.dataset import load_dataset  # noqa: E402
from worldsim.windows import plan_windows, take_arrays  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def _drop_page_cache(cache: Path) -> None:
    for path in cache.glob("*.npy"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _timed(arrays: dict, plan) -> tuple[float, dict]:
    start = time.perf_counter()
    batch = take_arrays(arrays, plan)
    return (time.perf_counter() - start) * 1e3, batch


def measure(data: Path, cache: Path, shards: int, batch: int, crop: int, frames: int, rounds: int) -> dict:
    """Median ms per batch of windows for RAM, warm maps and cold maps, over ``rounds`` alternating rounds."""
    ram = load_dataset(data, max_shards=shards)
    mapped = load_dataset(data, max_shards=shards, cache=cache)
    clips, shape = np.arange(ram["rgb"].shape[0]), ram["rgb"].shape[2:4]
    times: dict[str, list[float]] = {"ram": [], "mapped, warm": [], "mapped, cold": []}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        plan = plan_windows(rng, clips, ram["rgb"].shape[1], shape, batch, frames, 0.0, size=crop,
                            colour_permutation=0.5)
        ms, want = _timed(ram, plan)
        times["ram"].append(ms)
        _drop_page_cache(cache)
        ms, cold = _timed(mapped, plan)
        times["mapped, cold"].append(ms)
        ms, warm = _timed(mapped, plan)  # the same windows, now in the page cache
        times["mapped, warm"].append(ms)
        for got in (cold, warm):
            if any(not np.array_equal(np.asarray(want[k]), np.asarray(got[k])) for k in want):
                raise AssertionError("the mapped windows differ from the RAM ones")
    gb = sum(v.nbytes for v in ram.values()) / 1e9
    return {"shards": shards, "clips": int(len(clips)), "dataset_gb": round(gb, 2), "batch": batch, "crop": crop,
            "frames": frames, "rounds": rounds,
            "ms_per_batch": {k: round(statistics.median(v), 1) for k, v in times.items()}}


def measure_steps(data: Path, cache: Path, shards: int, batch: int, crop: int, rounds: int, preset: str) -> dict:
    """Median seconds per training step (the Cycles look's change-13 settings, a fresh ``preset`` model)
    from RAM and through the cache, five timed steps per arm per round, the arms taking turns."""
    import tempfile

    from worldsim.train import TrainConfig, Trainer

    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "data"  # the first `shards` shards, linked: the cache's manifest still matches them
        subset.mkdir()
        for path in sorted(Path(data).glob("shard_*.npz"))[:shards]:
            (subset / path.name).symlink_to(path.resolve())
        settings = dict(data=str(subset), preset=preset, steps=10**6, batch=batch, crop=crop, pbr=True,
                        output="shading", head_blend="tent", token_features=0, mean_start=0.5, context_prob=0.0,
                        clipped_loss=True, colour_permutation=0.5, ripple_weight=20.0, sample_every=10**6)
        arms = {"train step, RAM": Trainer(TrainConfig(out=f"{tmp}/a", **settings)),
                "train step, mapped": Trainer(TrainConfig(out=f"{tmp}/b", data_cache=str(cache), **settings))}
        times: dict[str, list[float]] = {name: [] for name in arms}
        for _ in range(rounds):
            for name, trainer in arms.items():
                start = time.perf_counter()
                for _ in range(5):
                    trainer.train_step()
                times[name].append((time.perf_counter() - start) / 5)
    return {name: round(statistics.median(v), 3) for name, v in times.items()}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--frames", type=int, default=4, help="frames per window (the small preset's)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--train-rounds", type=int, default=0,
                        help="also time full training steps (RAM, mapped, mapped without drawing ahead), this many "
                             "rounds of 5 steps each (default 0: windows only)")
    parser.add_argument("--preset", default="small", help="the model for --train-rounds (default small)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the JSON and table go (default benchmarks/results)")
    args = parser.parse_args(argv)
    result = measure(args.data, args.cache, args.shards, args.batch, args.crop, args.frames, args.rounds)
    rows = [{"source": f"windows, {name}", "ms": ms, **{k: v for k, v in result.items() if k != "ms_per_batch"}}
            for name, ms in result["ms_per_batch"].items()]
    if args.train_rounds:
        steps = measure_steps(args.data, args.cache, args.shards, args.batch, args.crop, args.train_rounds, args.preset)
        rows += [{"source": name, "ms": round(1e3 * sec, 1), "preset": args.preset,
                  **{k: v for k, v in result.items() if k not in ("ms_per_batch", "rounds")}, "rounds": args.train_rounds}
                 for name, sec in steps.items()]
    table = "\n".join([f"Training windows ({args.batch} × {args.frames} frames, {args.crop}² crops) from "
                        f"{result['shards']} shards ({result['dataset_gb']} GB), median of {args.rounds} rounds",
                        "", "| what | ms (a batch of windows, or a training step) |", "|---|---|",
                        *(f"| {r['source']} | {r['ms']:.1f} |" for r in rows)])
    write_report(args.out, "data_cache", device_line("cpu"), rows, table)
    return rows

if __name__ == "__main__":
    main()
