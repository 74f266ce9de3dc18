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

Shards go in in a spread order (:func:`spread_order`), not the dataset's: a pack capped by
``--max-mib`` holds shards from the whole dataset, not only its first ones (the generator's later
shards may be of another scene mix). With ``--parts N`` the pack is ``PACK/part0`` … ``PACK/part{N-1}``,
each at most ``--max-mib``: one part travels with each call of a GPU window, the parts already up
stay on the warm machine, and ``--data PACK`` reads the parts present.
"""

from __future__ import annotations

import json
import lzma
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from worldsim.errors import ConfigError, DataError
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


def pack_dirs(root: str | Path) -> list[Path]:
    """The packs ``root`` holds: itself (its ``pack.json``), else its parts ``part0``, ``part1``, … that
    are present, in order; empty when it holds none."""
    root = Path(root)
    if (root / "pack.json").is_file():
        return [root]
    if not root.is_dir():
        return []
    parts = [d for d in root.iterdir() if d.name.startswith("part") and d.name[4:].isdigit() and (d / "pack.json").is_file()]
    return sorted(parts, key=lambda d: int(d.name[4:]))


def is_pack(root: str | Path) -> bool:
    """Whether ``root`` holds a pack, or parts of one (:func:`pack_dirs`)."""
    return bool(pack_dirs(root))


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
    for i, shard in enumerate(index["shards"]):
        missing = [k for k in ("file", "source", "arrays") if not isinstance(shard, dict) or k not in shard]
        if missing:
            raise DataError(f"{path}: field 'shards[{i}]' lacks {', '.join(missing)}")
    return index


def load_pack(root: str | Path, max_shards: int | None = None) -> dict[str, np.ndarray]:
    """All shards of a pack (of every part present) concatenated along the clip axis in the dataset's
    order (what ``load_dataset`` returns).

    Raises:
        DataError: no pack there, an empty one, or parts whose clips differ in shape, naming the file.
    """
    # in the dataset's order (the shards' own names), whichever part and order they were packed in
    entries = sorted(((s["source"], d / s["file"], s["arrays"]) for d in pack_dirs(root) for s in read_index(d)["shards"]),
                     key=lambda entry: entry[0])
    files = [(path, infos) for _, path, infos in entries][:max_shards]
    if not files:
        raise DataError(f"{Path(root) / 'pack.json'}: field 'shards' is empty" if is_pack(root)
                        else f"{root}: no pack.json, and no part0, part1, … holding one")
    first_path, first = files[0]
    for path, infos in files:  # from the indexes, before anything is decompressed
        odd = [k for k in first if k not in infos or infos[k]["shape"][1:] != first[k]["shape"][1:]]
        if odd:
            raise DataError(f"{path}: its clips differ from {first_path}'s in {', '.join(odd)} "
                            f"(packs of different datasets cannot train together)")
    # LZMA lets go of the GIL while it decompresses: threads unpack shards side by side (a GPU
    # machine's 16 cores read three 34 MiB parts in seconds, not the minute one core takes)
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1)) as pool:
        shards = list(pool.map(lambda file: unpack_shard(*file), files))
    return {key: np.concatenate([s[key] for s in shards]) for key in shards[0]}


def radical_inverse(k: int) -> float:
    """``k``'s binary digits mirrored about the point (van der Corput): 0, ½, ¼, ¾, ⅛, …"""
    value, scale = 0.0, 0.5
    while k:
        value += scale * (k & 1)
        k, scale = k >> 1, scale / 2
    return value


def spread_order(n: int) -> list[int]:
    """``range(n)`` in an order whose every prefix is spread evenly over it (0, n/2, n/4, 3n/4, …)."""
    order, seen, k = [], set(), 0
    while len(order) < n:
        i = int(radical_inverse(k) * n)
        k += 1
        if i not in seen:
            seen.add(i)
            order.append(i)
    return order


def pack(source: str | Path, out: str | Path, max_mib: float | None = None, parts: int = 1,
         progress: bool = True) -> list[tuple[Path, dict]]:
    """Pack the shards of dataset ``source`` into ``out`` (or its ``parts`` parts), in
    :func:`spread_order`, each pack stopping before it would pass ``max_mib``; returns each pack's
    directory and index. Resumes: shards already packed (in any part) are kept.

    Raises:
        DataError: no shards in ``source``.
        ConfigError: several parts without ``max_mib`` (the first would take every shard).
    """
    from worldsim.dataset import read_shard

    source, out = Path(source), Path(out)
    paths = sorted(source.glob("shard_*.npz"))
    if not paths:
        raise DataError(f"{source}: no shard_*.npz files to pack")
    if parts > 1 and max_mib is None:
        raise ConfigError(f"--parts {parts} needs --max-mib: each part is filled up to it before the next")
    layout = pack_dirs(out)
    if layout and (layout == [out]) != (parts == 1):  # a reader would see one layout and miss the other's shards
        raise ConfigError(f"{out}: already a pack {'in parts' if parts == 1 else 'of one part'}; "
                          f"resume it with its own --parts, or pack into another --out")
    meta = json.loads((source / "dataset.json").read_text()) if (source / "dataset.json").is_file() else {}
    dirs = [out] if parts == 1 else [out / f"part{i}" for i in range(parts)]
    indexes = [read_index(d) if is_pack(d) else {"format": FORMAT, "source": str(source), "dataset": meta,
                                                 "shards": [], "bytes": 0, "source_bytes": 0} for d in dirs]
    done = {s["source"] for index in indexes for s in index["shards"]}
    todo = [paths[i] for i in spread_order(len(paths)) if paths[i].name not in done]
    start, part = time.perf_counter(), 0
    for path in todo:
        encoded, infos = pack_shard(read_shard(path))
        size = sum(v.nbytes for v in encoded.values())
        while part < parts and max_mib is not None and (indexes[part]["bytes"] + size) / 2**20 > max_mib:
            part += 1
        if part == parts:
            break
        _add_shard(dirs[part], indexes[part], path, encoded, infos)
        if progress:
            print(f"pack: {len(done) + 1}/{len(paths)} shards, {sum(i['bytes'] for i in indexes) / 2**20:.1f} MiB "
                  f"(from {sum(i['source_bytes'] for i in indexes) / 2**20:.1f} MiB), "
                  f"{time.perf_counter() - start:.0f}s", flush=True)
        done.add(path.name)
    return list(zip(dirs, indexes, strict=True))


def _add_shard(out: Path, index: dict, path: Path, encoded: dict[str, np.ndarray], infos: dict) -> None:
    """Write one packed shard into the pack ``out`` and its index after it (the index marks it complete)."""
    out.mkdir(parents=True, exist_ok=True)
    name = f"pack_{len(index['shards']):05d}.npz"
    save_npz(out / name, compress=False, **encoded)
    index["shards"].append({"file": name, "source": path.name, "arrays": infos})
    index["bytes"] += (out / name).stat().st_size
    index["source_bytes"] += path.stat().st_size
    write_atomic(out / "pack.json", json.dumps(index, indent=1))
