"""The GPU window rehearsed on CPU: the benchmark and the training recipe exactly as the GPU machine
runs them (benchmarks/gpu_window.sh), with a tiny preset, and only torch, numpy, safetensors and
einops imported on that side."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks import load_benchmark

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_window.sh"
DEVICE_SIDE = ("torch", "numpy", "safetensors", "einops")


def _norm(name: str) -> str:
    """A distribution name as packaging compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: tuple[str, ...]) -> set[str]:
    """The distributions ``names`` need, transitively (extras left out), normalised."""
    seen, todo = set(), [_norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_norm(re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0]) for r in requires if "extra ==" not in r]
    return seen


def bare_python(root: Path) -> Path:
    """A ``python`` for ``root`` that sees the standard library, the checkout and the device side's
    packages (torch, numpy, safetensors, einops and what they need) and nothing else installed, as
    on the GPU machine: it runs without site-packages (``-S``) over a folder of links to just those."""
    import sysconfig

    allowed = _closure(DEVICE_SIDE)
    owners = metadata.packages_distributions()
    packages = Path(sysconfig.get_paths()["purelib"])
    links = root / "site"
    links.mkdir(parents=True, exist_ok=True)
    for entry in packages.iterdir():
        if not (entry.is_dir() or entry.suffix in (".py", ".so")):
            continue
        top = entry.name.split(".")[0]  # numpy/, numpy.libs/ and _cffi_backend.cpython-311-….so alike
        if {_norm(d) for d in owners.get(top, [])} & allowed and not (links / entry.name).exists():
            (links / entry.name).symlink_to(entry)
    python = root / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="$PYTHONPATH:{links}" exec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    return python


def _window(stage: list[str], tmp_path: Path, **env: str) -> None:
    """Run a stage of gpu_window.sh on CPU under :func:`bare_python`."""
    full = {**os.environ, "PYTHON": str(bare_python(tmp_path / "bare")), "DEVICE": "cpu",
            "RUNS": str(tmp_path / "runs"), **env}
    full.pop("PYTHONPATH", None)
    proc = subprocess.run(["bash", str(SCRIPT), *stage], cwd=REPO, env=full, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def pack_dir(tiny_dataset, tmp_path_factory):
    from worldsim.pack import pack

    out = tmp_path_factory.mktemp("pack")
    pack(tiny_dataset, out, progress=False)
    return out


@pytest.fixture(scope="module")
def parts_dir(tiny_dataset, pack_dir, tmp_path_factory):
    """The tiny dataset packed in two parts of one shard each, as a GPU window carries them."""
    from worldsim.pack import pack, read_index

    largest = max((pack_dir / s["file"]).stat().st_size for s in read_index(pack_dir)["shards"])
    out = tmp_path_factory.mktemp("parts")
    pack(tiny_dataset, out, max_mib=largest * 1.01 / 2**20, parts=2, progress=False)
    return out


def test_bare_python_has_the_device_side_packages_and_nothing_else(tmp_path):
    """The rehearsal's guard can fail: a device side that imported yaml or pybullet would stop there."""
    code = ("import numpy, torch, einops, safetensors.torch\nfor name in ('yaml', 'pybullet', 'scipy', 'tqdm'):\n"
            "    try:\n        __import__(name)\n        print('found', name)\n    except ImportError:\n        pass\n"
            "print('ok')")
    out = subprocess.run([str(bare_python(tmp_path)), "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"


def test_bench_stage_writes_json_and_markdown_on_cpu(pack_dir, tmp_path):
    out = tmp_path / "out"
    import shutil

    # torch.compile on a CPU needs a C++ compiler; without one the rest is still rehearsed
    compiler = shutil.which("c++") or shutil.which("g++")
    args = "--tiny --compile-mode default" + ("" if compiler else " --no-compile")
    _window(["bench"], tmp_path, OUT=str(out), DATA=str(pack_dir), BENCH_ARGS=args)
    result = json.loads((out / "gpu.json").read_text())
    assert result["agreement"]["fp32"]["ok"] and result["agreement"]["bf16"]["ok"]
    cells = {(r["resolution"], r["steps"]) for r in result["sampling"]}
    assert cells == {(16, 1), (16, 2), (24, 1), (24, 2)}
    assert all(r["frames_per_s"] > 0 and r["tflops"] > 0 for r in result["sampling"])
    assert not compiler or (result["compiled"] and result["compiled"][0]["speedup"] > 0)
    assert result["training"][0]["windows_per_s"] > 0
    assert "## Agreement with the CPU" in (out / "gpu.md").read_text()


def test_train_stage_returns_a_checkpoint_and_resumes_warm_and_cold(parts_dir, tmp_path):
    from worldsim.checkpoint import load_meta, load_model, resolve_checkpoint

    common = dict(DATA=str(parts_dir), PRESET="tiny", BATCH="2", CROP="16", LR="1e-3")
    first = tmp_path / "first"
    _window(["train", "cycles", "5"], tmp_path, OUT=str(first), INIT="none", STEPS="3", **common)
    record = json.loads((first / "cycles.json").read_text())
    assert record["steps"] == 3 and record["clips"] == 4  # both parts, two clips each
    # the shipped default's recipe, with the window's own batch and rate
    shipped = load_meta(resolve_checkpoint("cycles"))["train"]
    for key in ("mean_start", "clipped_loss", "ripple_weight", "colour_permutation", "context_prob", "output"):
        assert record["train"][key] == shipped[key], key
    assert (record["train"]["batch"], record["train"]["lr"]) == (2, 1e-3)
    assert (first / "cycles_metrics.jsonl").is_file() and (first / "cycles_samples.png").is_file()
    # warm machine: the run directory is still there, so training continues its own state
    warm = tmp_path / "warm"
    _window(["train", "cycles", "5"], tmp_path, OUT=str(warm), INIT="none", STEPS="5", **common)
    assert json.loads((warm / "cycles.json").read_text())["steps"] == 5
    # fresh machine: no run directory; the checkpoint brought back is the starting point
    import shutil

    shutil.rmtree(tmp_path / "runs")
    cold = tmp_path / "cold"
    _window(["train", "cycles", "5"], tmp_path, OUT=str(cold), INIT=str(warm / "cycles.safetensors"), STEPS="1", **common)
    started, _ = load_model(warm / "cycles.safetensors")
    trained, meta = load_model(cold / "cycles.safetensors")
    assert meta["train"]["init"] == str(warm / "cycles.safetensors")
    pairs = zip(started.state_dict().values(), trained.state_dict().values(), strict=True)
    moved = [float((a - b).abs().max()) for a, b in pairs]
    assert 0 < max(moved) < 0.5  # one step on from the given weights, not from scratch


def test_pack_round_trips_the_dataset(tiny_dataset, pack_dir):
    from worldsim.dataset import load_dataset

    packed, original = load_dataset(pack_dir), load_dataset(tiny_dataset)
    assert packed.keys() == original.keys()
    for key, value in original.items():
        assert packed[key].dtype == value.dtype and packed[key].shape == value.shape, key
        tol = {"normals": 0.005, "world_position": 0.01}.get(key, 0)
        assert np.abs(packed[key].astype(np.float64) - value.astype(np.float64)).max() <= tol, key


def test_parts_split_the_dataset_and_read_back_whatever_is_present(tiny_dataset, parts_dir, tmp_path):
    import shutil

    from worldsim.dataset import load_dataset
    from worldsim.pack import read_index

    assert sorted(d.name for d in parts_dir.iterdir()) == ["part0", "part1"]
    assert [len(read_index(parts_dir / d)["shards"]) for d in ("part0", "part1")] == [1, 1]
    packed, original = load_dataset(parts_dir), load_dataset(tiny_dataset)
    assert np.array_equal(packed["rgb"], original["rgb"])  # the dataset's order, whatever part holds a shard
    # a window whose second part has not gone up yet trains on the first alone
    first = tmp_path / "first"
    shutil.copytree(parts_dir / "part0", first / "part0")
    assert load_dataset(first)["rgb"].shape[0] == 2


def test_a_capped_pack_is_spread_over_the_dataset():
    from worldsim.pack import spread_order

    assert spread_order(8) == [0, 4, 2, 6, 1, 5, 3, 7]
    order = spread_order(182)
    assert sorted(order) == list(range(182))
    for k in (4, 16, 60):  # every prefix leaves no gap much over its even share
        picked = sorted(order[:k])
        assert max(np.diff([*picked, 182 + picked[0]])) <= 2 * 182 / k, k


def test_parts_without_a_size_or_packs_of_different_datasets_are_refused(tiny_dataset, pack_dir, tmp_path):
    import shutil

    from worldsim.dataset import load_dataset
    from worldsim.errors import ConfigError, DataError
    from worldsim.pack import load_pack, pack

    with pytest.raises(ConfigError, match="--max-mib"):
        pack(tiny_dataset, tmp_path / "p", parts=2, progress=False)
    with pytest.raises(ConfigError, match="already a pack of one part"):
        pack(tiny_dataset, pack_dir, max_mib=1, parts=2, progress=False)
    mixed = tmp_path / "mixed"
    shutil.copytree(pack_dir, mixed / "part0")
    shutil.copytree(pack_dir, mixed / "part1")
    index = json.loads((mixed / "part1" / "pack.json").read_text())
    for shard in index["shards"]:
        shard["source"] = "other_" + shard["source"]
        shard["arrays"]["rgb"]["shape"][2] = 16  # as if the frames were another size
    (mixed / "part1" / "pack.json").write_text(json.dumps(index))
    with pytest.raises(DataError, match=r"part\d/pack_00000.npz: its clips differ from .*part\d/pack_00000.npz's in rgb"):
        load_dataset(mixed)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no pack\.json, and no part0"):
        load_pack(tmp_path / "empty")


def test_agreement_check_fails_frames_that_disagree():
    bench = load_benchmark("gpu")
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (1, 2, 16, 16, 3), dtype=np.uint8)
    assert bench.compare(ref, ref.copy(), max_levels=1)["ok"]
    off_by_two = np.clip(ref.astype(int) + 2, 0, 255).astype(np.uint8)
    assert not bench.compare(ref, off_by_two, max_levels=1)["ok"]
    noisy = np.clip(ref + rng.normal(0, 20, ref.shape), 0, 255).astype(np.uint8)
    result = bench.compare(ref, noisy, min_psnr=35.0)
    assert result["psnr"] < 25 and not result["ok"]
