"""Training steps per second in each precision, measured side by side in one run.

Run: ``python benchmarks/train_speed.py [--preset small] [--crop 128] [--batch 4] [--rounds 5]``.

Times full optimizer steps (forward, rectified-flow loss, backward, AdamW) of a freshly built
Cycles-look model on random condition maps of the dataset's layout, alternating the precisions
round by round so a slow spell of a shared machine falls on both; reports the median of each.
Data loading is left out: it is the same numpy work in every precision. Writes
``benchmarks/results/train_speed.json`` and ``train_speed.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks.report

from benchmarks.report import device_line, write_report  # noqa: E402
from worldsim import flow  # noqa: E402
from worldsim.conditioning.tensors import random_conditions  # noqa: E402
from worldsim.model import build_model  # noqa: E402
from worldsim.render import autocast, native_bf16, resolve_device  # noqa: E402


def training_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: int, size: int,
                  device: torch.device) -> Callable[[str], None]:
    """One full optimizer step (forward, rectified-flow loss, backward, ``opt``) of ``model`` on
    ``batch`` random windows of ``size``² made once on ``device``, as a call taking the precision
    (also ``benchmarks/gpu.py``'s training section)."""
    cond = random_conditions(model.config, batch, size, device)
    data = torch.rand(batch, model.config.frames, 3, size, size, device=device) * 2 - 1

    def step(precision: str) -> None:
        with autocast(device, precision):
            loss = flow.loss(model, data, cond, generator=torch.Generator().manual_seed(0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def measure(preset: str, crop: int, batch: int, rounds: int, precisions: tuple[str, ...],
            device: torch.device) -> list[dict]:
    """One row per precision: median seconds per step over ``rounds`` alternating rounds (after one
    warm-up step each)."""
    torch.manual_seed(0)
    model = build_model(preset, pbr=True, resolution=crop).to(device)
    call = training_step(model, torch.optim.AdamW(model.parameters(), lr=1e-5), batch, crop, device)

    def step(precision: str) -> float:
        start = time.perf_counter()
        call(precision)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {p: [] for p in precisions}
    for p in precisions:
        step(p)  # warm-up: allocator, kernel choice
    for _ in range(rounds):
        for p in precisions:
            times[p].append(step(p))
    base = statistics.median(times[precisions[0]])
    return [{"precision": p, "preset": preset, "crop": crop, "batch": batch, "s_per_step": statistics.median(t),
             "windows_per_s": batch / statistics.median(t), f"speedup_vs_{precisions[0]}": base / statistics.median(t)}
            for p, t in times.items()]


def markdown(rows: list[dict], device: str) -> str:
    first = rows[0]["precision"]
    lines = [f"Training steps on {device}", "",
             f"| precision | preset | crop | batch | s/step | windows/s | vs {first} |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['precision']} | {r['preset']} | {r['crop']}² | {r['batch']} | {r['s_per_step']:.3f} "
                     f"| {r['windows_per_s']:.2f} | {r[f'speedup_vs_{first}']:.2f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    rows = measure(args.preset, args.crop, args.batch, args.rounds, tuple(args.precision), device)
    name = device_line(device, native_bf16=native_bf16(device))
    write_report(args.out, "train_speed", name, rows, markdown(rows, name))
    return rows


if __name__ == "__main__":
    main()
