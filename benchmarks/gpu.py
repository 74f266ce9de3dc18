"""Everything a GPU window needs measured, in one command: agreement, frames/s, MFU, training, memory.

Run (on the GPU machine, from the repository root; it imports only torch, numpy, safetensors,
einops, worldsim's model side and ``benchmarks/train_speed.py``'s training step, so it runs where
pybullet cannot be installed)::

    PYTHONPATH=. python benchmarks/gpu.py --out $OUT [--checkpoint cycles] [--data PACK]

Rehearsed on CPU by ``tests/benchmarks/test_gpu_benchmark.py`` with ``--tiny``. Sections:

1. **agreement**: the renderer's uint8 frames on the device against the CPU's, for the same inputs
   and noise, in fp32 (TF32 off) and in bf16 autocast. Tolerances: fp32 within 1 level of 255 on
   every pixel; bf16 PSNR ≥ 35 dB against fp32 CPU. The inputs are a window of ``--data`` (a pack,
   :mod:`worldsim.pack`) when given, else random maps of the right shapes.
2. **sampling**: model frames/s (conditions already on the device: the model alone, not the map
   pass) at each resolution, batch 1 and the batch that fills the device (doubled until frames/s
   gains under 5 % or memory runs out), 1, 2 and 4 steps, in ``--dtype``; with ``--compile`` the
   largest cells again under ``torch.compile`` (eager and compiled figures both kept, with the
   speed-up). MFU = counted FLOPs (:mod:`worldsim.flops`) × calls/s ÷ the datasheet peak of the
   dtype; beside it the fraction of a large matmul's measured rate on the same device.
3. **training**: windows/s, frames/s and MFU of full training steps (forward, backward, AdamW) of
   ``--train-preset`` on ``--train-crop``² crops, batch doubled like sampling.
4. **peak memory** per cell (CUDA only).

Writes ``OUT/gpu.json`` and ``OUT/gpu.md``; prints each row as it is measured.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, when worldsim is not installed

from benchmarks.train_speed import training_step  # noqa: E402
from worldsim import flow  # noqa: E402
from worldsim.conditioning.tensors import random_conditions  # noqa: E402
from worldsim.flops import peak_tflops, sample_flops, train_flops  # noqa: E402
from worldsim.model import build_model  # noqa: E402
from worldsim.render import Renderer, autocast  # noqa: E402

FP32_MAX_LEVELS = 1  # fp32 on the device vs the CPU: every pixel within this many levels of 255
BF16_MIN_PSNR = 35.0  # bf16 autocast on the device vs fp32 on the CPU
TARGETS = {"sample_fps_128": 5000, "sample_fps_256": 1500, "train_mfu": 0.40}  # issue 17, one H100, 1 step, bf16


# --- inputs ------------------------------------------------------------------------------------
def synthetic_arrays(config, batch: int, height: int, width: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Condition arrays of the dataset's layout (leading (B, T) axes) with random but valid values."""
    rng = np.random.default_rng(seed)
    t = config.frames
    normals = rng.normal(size=(batch, t, height, width, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    extr = np.tile(np.eye(4, dtype=np.float32), (batch, t, 1, 1))
    extr[..., 2, 3] = 3.0
    light = rng.uniform(0, 1, (batch, 10)).astype(np.float32)
    light[:, :3] /= np.linalg.norm(light[:, :3], axis=-1, keepdims=True)
    return {
        "albedo": rng.integers(0, 256, (batch, t, height, width, 3), dtype=np.uint8), "normals": normals,
        "world_position": rng.uniform(-1, 1, (batch, t, height, width, 3)).astype(np.float32),
        "depth": rng.uniform(1, 5, (batch, t, height, width)).astype(np.float32),
        "light_visibility": rng.integers(0, 2, (batch, t, height, width)).astype(np.float32),
        "segmentation": rng.integers(-1, 8, (batch, t, height, width)).astype(np.int32),
        "material": rng.integers(0, config.num_materials, (batch, t, height, width)).astype(np.int32),
        "extrinsics": extr, "light": light,
        "pbr": rng.integers(0, 256, (batch, t, height, width, 3), dtype=np.uint8),
        "area_light": rng.uniform(0, 5, (batch, t, height, width, 3)).astype(np.float32),
        "environment": rng.uniform(0, 1, (batch, 9)).astype(np.float32),
    }


def data_arrays(pack: str, config, height: int, width: int) -> dict[str, np.ndarray]:
    """One real window (the first clip's first frames, top-left crop) of a pack or dataset."""
    from worldsim.conditioning.arrays import crop, stack, window
    from worldsim.dataset import load_dataset

    arrays = load_dataset(pack, max_shards=1)
    clip = window({k: v[0] for k, v in arrays.items() if k != "rgb"}, 0, config.frames)
    return crop(stack([clip]), np.zeros(1, int), np.zeros(1, int), (height, width))


# --- timing ------------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, seconds: float, min_calls: int = 3) -> float:
    """Seconds per call of ``fn`` after two warm-up calls, over at least ``seconds`` and ``min_calls``."""
    for _ in range(2):
        fn()
    sync(device)
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < seconds:
        fn()
        calls += 1
        if calls % 4 == 0:
            sync(device)
    sync(device)
    return (time.perf_counter() - start) / calls


def matmul_tflops(device: torch.device, dtype: torch.dtype, size: int) -> float:
    """Measured TFLOP/s of a ``size``³ matrix product: the device's practical peak."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    per = timed(lambda: a @ b, device, 0.5)
    return 2 * size**3 / per / 1e12


def peak_memory(device: torch.device) -> float | None:
    """MiB of the peak allocation since the last reset (CUDA), else None."""
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


# --- 1. agreement ----------------------------------------------------------------------------------
def compare(reference: np.ndarray, other: np.ndarray, max_levels: int | None = None,
            min_psnr: float | None = None) -> dict:
    """How far ``other`` (uint8 frames) is from ``reference``, and whether it is within tolerance."""
    diff = np.abs(reference.astype(np.int16) - other.astype(np.int16))
    mse = float((diff.astype(np.float64) ** 2).mean())
    psnr = float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)
    ok = (max_levels is None or int(diff.max()) <= max_levels) and (min_psnr is None or psnr >= min_psnr)
    return {"max_levels": int(diff.max()), "mean_levels": float(diff.mean()), "psnr": psnr,
            "tolerance": {"max_levels": max_levels, "min_psnr": min_psnr}, "ok": bool(ok)}


def agreement(model, device: torch.device, arrays: dict[str, np.ndarray], steps: int = 2) -> dict:
    """The renderer's frames on ``device`` (fp32, bf16) against fp32 on the CPU, for the same inputs and noise."""
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 here
    try:
        cpu = Renderer.from_model(model, "cpu", steps, "fp32").render_window(arrays, seed=0)
        on_device = copy.deepcopy(model)  # from_model moves the model it is given; ``model`` stays on the CPU
        fp32 = Renderer.from_model(on_device, str(device), steps, "fp32").render_window(arrays, seed=0)
        bf16 = Renderer.from_model(on_device, str(device), steps, "bf16").render_window(arrays, seed=0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return {"fp32": compare(cpu, fp32, max_levels=FP32_MAX_LEVELS), "bf16": compare(cpu, bf16, min_psnr=BF16_MIN_PSNR),
            "shape": list(cpu.shape), "steps": steps}


# --- 2. sampling -----------------------------------------------------------------------------------
def sample_call(model, config, device, batch: int, size: int, steps: int, precision: str):
    """A zero-argument function drawing ``batch`` windows at ``size``² with ``steps`` steps."""
    cond = random_conditions(config, batch, size, device)
    noise = torch.randn(batch, config.frames, 3, size, size, device=device)

    def call():
        with torch.no_grad(), autocast(device, precision):
            return flow.sample(model, noise, cond, steps=steps)
    return call


def fill_batch(measure, start: int, limit: int) -> tuple[int, float]:
    """Double the batch while throughput (``measure(batch) -> per-item rate``) gains ≥ 5 % and memory lasts."""
    best, best_rate, batch = start, measure(start), start * 2
    while batch <= limit:
        try:
            rate = measure(batch)
        except RuntimeError as exc:
            if not out_of_memory(exc):
                raise
            break
        if rate < best_rate * 1.05:
            if rate > best_rate:
                best, best_rate = batch, rate
            break
        best, best_rate, batch = batch, rate, batch * 2
    return best, best_rate


def batch_limit(args, device: torch.device) -> int:
    """The largest batch tried: ``--max-batch`` on a GPU, ``--cpu-batch`` on a CPU (no filling there)."""
    return args.max_batch if device.type == "cuda" else args.cpu_batch


def sampling_rows(model, device, args, peak: float | None, matmul: float) -> list[dict]:
    config = model.config
    rows = []
    for size in args.resolutions:
        def fps(batch: int, steps: int = 1, size: int = size) -> float:
            return batch * config.frames / timed(sample_call(model, config, device, batch, size, steps, args.dtype),
                                                  device, args.seconds)
        fill, _ = fill_batch(fps, 1, batch_limit(args, device))
        for batch in sorted({1, fill}):
            for steps in args.steps:
                reset_memory(device)
                call = sample_call(model, config, device, batch, size, steps, args.dtype)
                per = timed(call, device, args.seconds)
                flops = sample_flops(config, size, size, batch, steps)
                row = {"resolution": size, "batch": batch, "steps": steps, "dtype": args.dtype, "compiled": False,
                       "frames_per_s": batch * config.frames / per, "ms_per_call": 1000 * per,
                       "tflops": flops / per / 1e12, "mfu": None if peak is None else flops / per / 1e12 / peak,
                       "of_matmul": flops / per / 1e12 / matmul, "peak_mib": peak_memory(device)}
                rows.append(row)
                print(json.dumps({"sampling": row}), flush=True)
    return rows


def compile_rows(model, device, args, rows: list[dict], peak: float | None, matmul: float) -> list[dict]:
    """The largest-batch 1-step cells again with ``torch.compile``; each row holds the speed-up."""
    config = model.config
    compiled = torch.compile(model, mode=args.compile_mode, dynamic=False)
    out = []
    for size in args.compile_resolutions:
        eager = [r for r in rows if r["resolution"] == size and r["steps"] == 1]
        if not eager:
            continue
        base = max(eager, key=lambda r: r["batch"])
        start = time.perf_counter()
        call = sample_call(compiled, config, device, base["batch"], size, 1, args.dtype)
        call()
        sync(device)
        compile_s = time.perf_counter() - start
        reset_memory(device)
        per = timed(call, device, args.seconds)
        flops = sample_flops(config, size, size, base["batch"], 1)
        row = {**base, "compiled": args.compile_mode, "frames_per_s": base["batch"] * config.frames / per,
               "ms_per_call": 1000 * per, "tflops": flops / per / 1e12,
               "mfu": None if peak is None else flops / per / 1e12 / peak, "of_matmul": flops / per / 1e12 / matmul,
               "peak_mib": peak_memory(device), "speedup": base["ms_per_call"] / (1000 * per),
               "compile_seconds": compile_s}
        out.append(row)
        print(json.dumps({"compiled": row}), flush=True)
    return out


# --- 3. training -----------------------------------------------------------------------------------
def train_rows(device, args, peak: float | None, matmul: float) -> list[dict]:
    model = build_model(args.train_preset, pbr=True, resolution=args.train_crop).to(device)
    config, size = model.config, args.train_crop
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step_call(batch: int):
        step = training_step(model, opt, batch, size, device)
        return lambda: step(args.dtype)

    def windows_per_s(batch: int) -> float:
        return batch / timed(step_call(batch), device, args.seconds)

    fill, _ = fill_batch(windows_per_s, 2, batch_limit(args, device))
    reset_memory(device)
    per = timed(step_call(fill), device, args.seconds)
    flops = train_flops(config, size, size, fill)
    row = {"preset": args.train_preset, "crop": size, "batch": fill, "dtype": args.dtype,
           "windows_per_s": fill / per, "frames_per_s": fill * config.frames / per, "ms_per_step": 1000 * per,
           "tflops": flops / per / 1e12, "mfu": None if peak is None else flops / per / 1e12 / peak,
           "of_matmul": flops / per / 1e12 / matmul, "peak_mib": peak_memory(device),
           "params_m": sum(p.numel() for p in model.parameters()) / 1e6}
    print(json.dumps({"training": row}), flush=True)
    return [row]


# --- report ----------------------------------------------------------------------------------------
def _f(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    """The JSON result as tables."""
    dev = result["device"]
    lines = [f"# GPU benchmark: {dev['name']}", "",
             f"torch {dev['torch']}, {result['checkpoint']} ({result['params_m']:.2f} M parameters), "
             f"dtype {result['dtype']}; matmul {_f(dev['matmul_tflops'])} TFLOP/s measured, "
             f"datasheet peak {_f(dev['peak_tflops'])}.", "", "## Agreement with the CPU", "",
             "| precision | max levels | mean levels | PSNR dB | tolerance | ok |", "|---|---|---|---|---|---|"]
    for name in ("fp32", "bf16"):
        a = result["agreement"][name]
        tol = a["tolerance"]
        tol_s = f"≤ {tol['max_levels']} levels" if tol["max_levels"] is not None else f"≥ {tol['min_psnr']} dB"
        lines.append(f"| {name} | {a['max_levels']} | {a['mean_levels']:.3f} | {_f(a['psnr'])} | {tol_s} | {a['ok']} |")
    lines += ["", "## Sampling (model only)", "",
              "| resolution | batch | steps | compiled | frames/s | ms/call | TFLOP/s | MFU | of matmul | peak MiB |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["sampling"] + result["compiled"]:
        lines.append(f"| {r['resolution']}² | {r['batch']} | {r['steps']} | {r['compiled'] or 'no'} | "
                     f"{r['frames_per_s']:.1f} | {r['ms_per_call']:.2f} | {r['tflops']:.3g} | "
                     f"{_f(None if r['mfu'] is None else 100 * r['mfu'])} % | {100 * r['of_matmul']:.1f} % | "
                     f"{_f(r['peak_mib'], 0)} |")
    lines += ["", "## Training", "", "| preset | crop | batch | windows/s | frames/s | ms/step | MFU | peak MiB |",
              "|---|---|---|---|---|---|---|---|"]
    for r in result["training"]:
        lines.append(f"| {r['preset']} | {r['crop']}² | {r['batch']} | {r['windows_per_s']:.1f} | "
                     f"{r['frames_per_s']:.1f} | {r['ms_per_step']:.1f} | "
                     f"{_f(None if r['mfu'] is None else 100 * r['mfu'])} % | {_f(r['peak_mib'], 0)} |")
    lines += ["", "## Targets (one H100, 1 step, bf16)", ""]
    for key, value in result["targets"].items():
        lines.append(f"- {key}: target {value['target']}, measured {_f(value['measured'], 3)}, "
                     f"{'met' if value['met'] else 'not met'}")
    return "\n".join(lines) + "\n"


def targets(result: dict) -> dict:
    def best(size: int) -> float | None:
        cells = [r["frames_per_s"] for r in result["sampling"] + result["compiled"]
                 if r["resolution"] == size and r["steps"] == 1 and r["dtype"] == "bf16"]
        return max(cells) if cells else None
    mfu = result["training"][0]["mfu"] if result["training"] else None
    measured = {"sample_fps_128": best(128), "sample_fps_256": best(256), "train_mfu": mfu}
    return {k: {"target": TARGETS[k], "measured": v, "met": v is not None and v >= TARGETS[k]} for k, v in measured.items()}


def load_renderer_model(args):
    if args.tiny:
        torch.manual_seed(0)
        return build_model("tiny", pbr=True).eval(), "tiny (random weights)"
    from worldsim.checkpoint import load_model

    model, _ = load_model(args.checkpoint, "cpu")
    return model, str(args.checkpoint)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu"))
    parser.add_argument("--checkpoint", default="cycles", help="checkpoint name or path (default: the shipped Cycles look)")
    parser.add_argument("--data", default=None, help="a pack or dataset for the agreement inputs (default: random maps)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default=None, help="default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per cell")
    parser.add_argument("--max-batch", type=int, default=1024)
    parser.add_argument("--cpu-batch", type=int, default=2, help="the 'full' batch on a CPU (no filling)")
    parser.add_argument("--compile", action="store_true", help="also time the largest cells under torch.compile")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip torch.compile (overrides --compile)")
    parser.add_argument("--compile-mode", default="max-autotune-no-cudagraphs")
    parser.add_argument("--compile-resolutions", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--train-preset", default="small")
    parser.add_argument("--train-crop", type=int, default=128)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model and sizes: the CPU rehearsal")
    args = parser.parse_args(argv)
    if args.tiny:
        args.resolutions, args.steps, args.seconds = [16, 24], [1, 2], min(args.seconds, 0.05)
        args.train_preset, args.train_crop, args.compile_resolutions = "tiny", 16, [24]
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from worldsim.render import resolve_device

    device = resolve_device(args.device)
    args.dtype = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    torch.backends.cuda.matmul.allow_tf32 = True  # sampling and training at the device's speed; agreement turns it off
    cpu = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    torch_dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    matmul = matmul_tflops(device, torch_dtype, 8192 if device.type == "cuda" else 512)
    peak = peak_tflops(name, args.dtype)
    model, label = load_renderer_model(args)
    agree_size = min(args.resolutions[0], 64)
    arrays = (data_arrays(args.data, model.config, agree_size, agree_size) if args.data
              else synthetic_arrays(model.config, 2, agree_size, agree_size))
    result = {"device": {"name": name, "torch": torch.__version__, "python": platform.python_version(),
                         "matmul_tflops": matmul, "peak_tflops": peak},
              "checkpoint": label, "params_m": sum(p.numel() for p in model.parameters()) / 1e6, "dtype": args.dtype,
              "agreement": agreement(model, device, arrays), "command": " ".join(sys.argv)}
    print(json.dumps({"agreement": result["agreement"]}), flush=True)
    model = model.to(device)
    result["sampling"] = sampling_rows(model, device, args, peak, matmul)
    result["compiled"] = compile_rows(model, device, args, result["sampling"], peak, matmul) if args.compile else []
    result["training"] = train_rows(device, args, peak, matmul)
    result["targets"] = targets(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(result, indent=2))
    (args.out / "gpu.md").write_text(markdown(result))
    print(f"wrote {args.out / 'gpu.json'} and {args.out / 'gpu.md'}")
    return result


if __name__ == "__main__":
    main()
