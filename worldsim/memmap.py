"""A dataset's shards unpacked once into one uncompressed ``.npy`` per array, memory-mapped for training.

:func:`worldsim.dataset.load_dataset` decompresses every shard into RAM. A 256² Cycles shard is
78 MB there, so 240 shards (18.6 GB) leave no room for the training itself on a 24 GiB machine.
``worldsim train --data-cache DIR`` keeps instead ``DIR/<array>.npy``, the shards concatenated along
the clip axis exactly as ``load_dataset`` returns them, and maps those files: the page cache holds
what fits and the rest is read from disk as windows are drawn. The values, and so the training, are
the same to the bit.

The cache follows the dataset as it grows. Shards made since the last run are appended: numpy
leaves room in a ``.npy`` header for the leading dimension to grow, so the header is rewritten in
place. A shard whose file changed (size or modification time) is copied again, with every shard
after it. ``DIR/cache.json`` lists the shards held and is written atomically after their bytes,
so a run killed mid-copy leaves trailing bytes that the next run cuts off: nothing is read from a
half-written shard. Runs take turns updating a cache (``.lock``), and every run that maps one holds
a shared lock on it (``.readers``) for its life: copies after a changed shard are redone only when
no other run maps them, so no training has its pages cut under it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from worldsim.errors import DataError
from worldsim.io import write_atomic
from worldsim.progress import progress_bar

FORMAT = "worldsim-cache/1"
MANIFEST = "cache.json"
LOCK = ".lock"
READERS = ".readers"
# This process's shared locks on READERS, one per cache it maps, held for the process's life: a run
# mapping the files must not have them cut under it (its next read of a cut page would kill it).
_reading: dict[Path, object] = {}


@contextmanager
def locked(cache: Path) -> Iterator[None]:
    """Hold ``cache``'s lock: two trainings started on one cache take turns bringing it up to date."""
    import fcntl

    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def read_lock(cache: Path) -> None:
    """Hold a shared lock on ``cache``'s readers' file for the rest of this process."""
    import fcntl

    if cache.resolve() not in _reading:
        fh = open(cache / READERS, "a")  # noqa: SIM115 (held open on purpose: the lock lives with it)
        fcntl.flock(fh, fcntl.LOCK_SH)
        _reading[cache.resolve()] = fh


def claim_for_cutting(cache: Path) -> None:
    """Make sure no other process maps ``cache`` before clips it may be reading are cut, or refuse."""
    import fcntl

    held = _reading.pop(cache.resolve(), None)
    if held is not None:  # this process's own earlier maps: superseded by the ones about to be made
        held.close()
    with open(cache / READERS, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise DataError(f"{cache}: a shard it holds changed, so the copies after it must be redone, but another "
                            "process is training on them; let it finish, or give this run another --data-cache") from err
        fcntl.flock(fh, fcntl.LOCK_UN)


def _stamp(path: Path) -> list:
    stat = path.stat()
    return [path.name, stat.st_size, stat.st_mtime_ns]


def _layout(headers: list[dict], keys: tuple[str, ...]) -> dict[str, list]:
    """Each array's per-clip shape and dtype, which every shard shares (``checked_shards`` saw to it)."""
    return {key: [list(headers[0][key][0][1:]), np.dtype(headers[0][key][1]).str] for key in keys}


def _refuse_foreign(cache: Path) -> None:
    """Refuse a directory that holds other files and no manifest: the cache truncates the files it
    owns, so it must not take another's."""
    if cache.exists() and not (cache / MANIFEST).exists() and any(p.name not in (LOCK, READERS) for p in cache.iterdir()):
        raise DataError(f"{cache}: not a worldsim data cache (no {MANIFEST}) and not empty; "
                        "give --data-cache a new or empty directory")


def read_manifest(cache: Path) -> dict | None:
    """The cache's manifest; None for a new or empty directory."""
    manifest = cache / MANIFEST
    if not manifest.exists():
        return None
    try:
        held = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{manifest}: unreadable ({err}); delete {cache} and it is rebuilt from the shards") from err
    if not isinstance(held, dict) or held.get("format") != FORMAT:
        raise DataError(f"{manifest}: format is {held.get('format') if isinstance(held, dict) else held!r}, "
                        f"expected {FORMAT!r}; delete {cache} and it is rebuilt from the shards")
    return held


def _kept(cache: Path, held: dict | None, paths: list[Path], layout: dict) -> list[list]:
    """The manifest's entries still true: its leading shards whose files are unchanged, in order
    (none if an array's file is gone or shorter than the manifest says)."""
    if held is None or held.get("layout") != layout:
        return []
    clips = sum(entry[3] for entry in held["shards"])
    for key in layout:
        path = cache / f"{key}.npy"
        if not path.exists() or np.load(path, mmap_mode="r").shape[0] < clips:
            return []
    kept = []
    for entry, path in zip(held["shards"], paths):  # noqa: B905 (the dataset may have grown or shrunk)
        if entry[:3] != _stamp(path):
            break
        kept.append(entry)
    return kept


def resize_npy(path: Path, layout: list, clips: int) -> int:
    """Make ``path`` a ``.npy`` of exactly ``clips`` clips (created empty, or cut), returning the header's size."""
    shape, dtype = layout
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": (clips, *shape)}
    mode = "r+b" if path.exists() else "w+b"
    with open(path, mode) as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        offset = fh.tell()
        if mode == "r+b":  # the header must not have moved the data; numpy pads it for a growing dimension
            fh.seek(0)
            np.lib.format.read_magic(fh)
            np.lib.format.read_array_header_1_0(fh)
            if fh.tell() != offset:
                raise DataError(f"{path}: its header changed size; delete {path.parent} and it is rebuilt")
        fh.truncate(offset + clips * int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    return offset


def load_cached(paths: list[Path], headers: list[dict], cache: str | Path,
                progress: bool = True) -> dict[str, np.ndarray]:
    """The shards at ``paths`` (with their ``headers``, from :func:`worldsim.dataset.checked_shards`)
    concatenated along the clip axis, as read-only memory maps of the uncompressed copies in ``cache``.

    Shards not yet in the cache, or changed since, are copied there first (with a progress bar).

    Raises:
        DataError: ``cache`` holds other files, or a manifest that is not a worldsim data cache's.
    """
    from worldsim.dataset import SHARD_KEYS, read_shard

    cache = Path(cache)
    layout = _layout(headers, SHARD_KEYS)
    _refuse_foreign(cache)
    with locked(cache):
        held = read_manifest(cache)
        kept = _kept(cache, held, paths, layout)
        clips = sum(entry[3] for entry in kept)
        todo = paths[len(kept):]  # none: all asked for is held (and whatever follows it is left alone)
        if todo:  # cut whatever follows the kept shards, a killed run's bytes included
            if held is not None and len(kept) < len(held["shards"]):
                claim_for_cutting(cache)  # clips another run may be reading are about to be redone
            for key in layout:
                resize_npy(cache / f"{key}.npy", layout[key], clips)
        bar = progress_bar(len(todo), unit="shard", desc=f"data cache {cache}", disable=not progress or not todo)
        for path in todo:
            n = _append(cache, layout, read_shard(path), clips)
            clips += n
            kept.append([*_stamp(path), n])
            write_atomic(cache / MANIFEST, json.dumps({"format": FORMAT, "layout": layout, "shards": kept}))
            bar.update()
        bar.close()
        read_lock(cache)
        # the cache may hold more shards than asked for (a smaller max_shards): kept for later, not mapped
        return {key: np.load(cache / f"{key}.npy", mmap_mode="r")[:clips] for key in layout}


def _append(cache: Path, layout: dict, shard: dict[str, np.ndarray], clips: int) -> int:
    """Append one shard's clips to the ``clips`` each array file holds; returns its clips."""
    for key in layout:
        append_npy(cache / f"{key}.npy", layout[key], shard[key], clips)
    return shard["rgb"].shape[0]


def append_npy(path: Path, layout: list, block: np.ndarray, clips: int) -> None:
    """Append ``block``'s clips to the ``clips`` the ``.npy`` at ``path`` holds: the bytes first, on
    disk, then the header, so a kill between them leaves bytes the header does not count."""
    with open(path, "ab") as fh:
        fh.write(np.ascontiguousarray(block, dtype=np.dtype(layout[1])).tobytes())
        fh.flush()
        os.fsync(fh.fileno())
    resize_npy(path, layout, clips + len(block))
