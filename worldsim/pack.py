"""Packs: a dataset compressed to travel to a GPU machine, and read back there with numpy alone.

A GPU window takes at most 64 MiB of working tree up with it (the repository included), and a
256² Cycles shard is ~12 MB as ``np.savez_compressed`` writes it. A pack stores the same arrays
about 7× smaller:

- every array is LZMA-compressed (Cycles' noise makes ``rgb`` the bulk; the maps shrink ~50×);
- ``normals`` (unit vectors) are stored as int8 × 127, an error below 0.004 per component;
- ``world_position`` is not stored: it is rebuilt on load from ``depth`` and the cameras
  (:func:`worldsim.teacher.camera.unproject`, numpy only), within the step of the float16 the
  dataset itself stores (5 mm at 4–8 m).

``worldsim pack DATA --out PACK [--max-mib N]`` writes ``PACK/pack_00000.npz``, … and
``PACK/pack.json``; :func:`worldsim.dataset.load_dataset` reads a pack wherever it reads a dataset,
so ``worldsim train --data PACK`` and the GPU window's trainer need no other change. Packing resumes
(shards already packed are kept) and writes every file atomically.
"""

from __future__ import annotations

import json
import lzma
import time
from pathlib import Path

import numpy as np

from worldsim.errors import DataError
from worldsim.io import load_npz, save_npz, write_atomic

FORMAT = "worldsim-pack/1"
_DROPPED = ("world_position",)


def _encode(key: str, value: np.ndarray) -> tuple[np.ndarray, dict]:
    info = {"dtype": str(value.dtype), "shape": list(value.shape)}
    if key == "normals":
        value = np.round(value.astype(np.float32) * 127).astype(np.int8)
        info["stored"] = "int8/127"
    raw = lzma.compress(np.ascontiguousarray(value).tobytes(), preset=6)
    return np.frombuffer(raw, dtype=np.uint8), info


def _decode(key: str, raw: np.ndarray, info: dict) -> np.ndarray:
    stored = np.int8 if info.get("stored") == "int8/127" else np.dtype(info["dtype"])
    value = np.frombuffer(lzma.decompress(raw.tobytes()), dtype=stored).reshape(info["shape"])
    if info.get("stored") == "int8/127":
        value = (value.astype(np.float32) / 127).astype(info["dtype"])
    return value


def world_positions(depth: np.ndarray, segmentation: np.ndarray, intrinsics: np.ndarray,
                    extrinsics: np.ndarray, dtype=np.float16) -> np.ndarray:
    """World positions ``(clips, frames, H, W, 3)`` from depth and cameras, 0 where nothing was hit."""
    from worldsim.teacher.camera import unproject  # numpy only; the teacher package imports nothing on its own

    out = np.zeros((*depth.shape, 3), dtype)
    for c in range(depth.shape[0]):
        for f in range(depth.shape[1]):
            pos = unproject(depth[c, f].astype(np.float32), intrinsics[c], extrinsics[c, f])
            pos[segmentation[c, f] < 0] = 0.0
            out[c, f] = pos
    return out


def pack_shard(arrays: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """One shard's arrays → (compressed byte arrays, per-key dtype/shape/storage)."""
    encoded, infos = {}, {}
    for key, value in arrays.items():
        if key in _DROPPED:
            infos[key] = {"dtype": str(value.dtype), "shape": list(value.shape), "stored": "rebuilt from depth"}
            continue
        encoded[key], infos[key] = _encode(key, value)
    return encoded, infos


def unpack_shard(path: str | Path, infos: dict[str, dict]) -> dict[str, np.ndarray]:
    """Read one packed shard back into the arrays of a dataset shard.

    Raises:
        DataError: a missing, truncated or corrupt file, naming it.
    """
    raw = load_npz(path)
    missing = [k for k in infos if k not in raw and k not in _DROPPED]
    if missing:
        raise DataError(f"{path}: not a shard of this pack (missing {', '.join(missing)})")
    try:
        arrays = {k: _decode(k, raw[k], infos[k]) for k in infos if k not in _DROPPED}
    except (lzma.LZMAError, ValueError) as exc:
        raise DataError(f"{path}: corrupt packed array ({exc})") from None
    if "world_position" in infos:
        arrays["world_position"] = world_positions(arrays["depth"], arrays["segmentation"], arrays["intrinsics"],
                                                   arrays["extrinsics"], np.dtype(infos["world_position"]["dtype"]))
    return arrays


def is_pack(root: str | Path) -> bool:
    """Whether ``root`` holds a pack (its ``pack.json``)."""
    return (Path(root) / "pack.json").is_file()


def read_index(root: str | Path) -> dict:
    """A pack's ``pack.json``, checked.

    Raises:
        DataError: not valid JSON or not a pack of this format, naming the file and the field.
    """
    path = Path(root) / "pack.json"
    try:
        index = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable pack index ({exc})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise DataError(f"{path}: field 'format' is {index.get('format') if isinstance(index, dict) else None!r}, "
                        f"expected {FORMAT!r}")
    if not isinstance(index.get("shards"), list):
        raise DataError(f"{path}: field 'shards' must be a list")
    return index


def load_pack(root: str | Path, max_shards: int | None = None) -> dict[str, np.ndarray]:
    """All shards of a pack concatenated along the clip axis (what ``load_dataset`` returns)."""
    index = read_index(root)
    shards = [unpack_shard(Path(root) / s["file"], s["arrays"]) for s in index["shards"][:max_shards]]
    if not shards:
        raise DataError(f"{Path(root) / 'pack.json'}: field 'shards' is empty")
    return {key: np.concatenate([s[key] for s in shards]) for key in shards[0]}


def pack(source: str | Path, out: str | Path, max_mib: float | None = None, progress: bool = True) -> dict:
    """Pack the shards of dataset ``source`` into ``out``, in order, stopping before the pack would
    pass ``max_mib``; returns the index. Resumes: shards already in ``out/pack.json`` are kept."""
    from worldsim.dataset import read_shard

    source, out = Path(source), Path(out)
    paths = sorted(source.glob("shard_*.npz"))
    if not paths:
        raise DataError(f"{source}: no shard_*.npz files to pack")
    out.mkdir(parents=True, exist_ok=True)
    meta = json.loads((source / "dataset.json").read_text()) if (source / "dataset.json").is_file() else {}
    index = read_index(out) if is_pack(out) else {"format": FORMAT, "source": str(source), "dataset": meta,
                                                   "shards": [], "bytes": 0, "source_bytes": 0}
    done = {s["source"] for s in index["shards"]}
    start = time.perf_counter()
    for i, path in enumerate(paths):
        if path.name in done:
            continue
        encoded, infos = pack_shard(read_shard(path))
        name = f"pack_{len(index['shards']):05d}.npz"
        size = sum(v.nbytes for v in encoded.values())
        if max_mib is not None and (index["bytes"] + size) / 2**20 > max_mib:
            break
        save_npz(out / name, compress=False, **encoded)
        index["shards"].append({"file": name, "source": path.name, "arrays": infos})
        index["bytes"] += (out / name).stat().st_size
        index["source_bytes"] += path.stat().st_size
        write_atomic(out / "pack.json", json.dumps(index, indent=1))  # after the shard: the index marks it complete
        if progress:
            print(f"pack: {i + 1}/{len(paths)} shards, {index['bytes'] / 2**20:.1f} MiB "
                  f"(from {index['source_bytes'] / 2**20:.1f} MiB), {time.perf_counter() - start:.0f}s", flush=True)
    return index
