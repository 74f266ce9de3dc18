"""Arrays worked out from a dataset's whole frames once, before training crops them: what each
pixel's mirrored view ray meets (``mirror``, :func:`~worldsim.conditioning.screen_reflection.mirror_radiance`).

A ray that leaves a 128² training crop must still find its pixel, so the array cannot be made from
the crop, and marching every frame of every batch would double a CPU step. It is made once per
clip: in RAM for a dataset held in RAM, or kept in the data cache (:mod:`worldsim.memmap`) as
``DIR/mirror.npy`` beside the shards' arrays. That copy follows the cache as it grows, shard by
shard: ``DIR/mirror.json`` lists the cache's shards it covers and the settings of the march it was
made with, is written atomically after their bytes, and a shard the cache redid (or another march)
is made again with every shard after it. A killed run resumes at the first shard not listed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from worldsim.io import write_atomic
from worldsim.memmap import MANIFEST, append_npy, claim_for_cutting, locked, read_lock, read_manifest, resize_npy
from worldsim.progress import progress_bar

MIRROR = "mirror"
MIRROR_DTYPE = np.float16


def mirror_settings() -> dict:
    """The march's settings: a copy made with others is made again."""
    from worldsim.conditioning import screen_reflection as ssr

    return {"format": "mirror/1", **{name: getattr(ssr, name) for name in (
        "STEPS", "NEAR", "FAR", "GAP", "THICKNESS", "REFINE", "ROUGHNESS_LIMIT", "MARCH_SIZE")}}


def _mirror_clips(arrays: dict[str, np.ndarray], start: int, stop: int) -> np.ndarray:
    """``mirror`` of clips ``start:stop``, ``(stop - start, T, H, W, 3)`` float16."""
    from worldsim.conditioning.screen_reflection import MIRROR_KEYS, mirror_radiance

    return np.stack([mirror_radiance({key: arrays[key][c] for key in MIRROR_KEYS}).numpy().astype(MIRROR_DTYPE)
                     for c in range(start, stop)])


def mirror_array(arrays: dict[str, np.ndarray], cache: str | Path | None = None, progress: bool = True) -> np.ndarray:
    """``mirror`` for every clip of ``arrays`` (a dataset as :func:`worldsim.dataset.load_dataset`
    returns it), ``(clips, T, H, W, 3)`` float16: made in RAM, or with ``cache`` (the data cache
    ``arrays`` was mapped from) kept there and memory-mapped (see the module docstring)."""
    clips = arrays["rgb"].shape[0]
    if cache is None:
        bar = progress_bar(clips, unit="clip", desc="mirror", disable=not progress)
        out = np.empty((clips, *arrays["rgb"].shape[1:4], 3), MIRROR_DTYPE)
        for c in range(clips):
            out[c] = _mirror_clips(arrays, c, c + 1)[0]
            bar.update()
        bar.close()
        return out
    return _cached_mirror(arrays, Path(cache), progress)


def _covered(cache: Path, shards: list[list]) -> list[list]:
    """The leading shards of ``shards`` (the cache's) that ``DIR/mirror.json`` covers with today's settings."""
    path = cache / f"{MIRROR}.json"
    if not path.exists() or not (cache / f"{MIRROR}.npy").exists():
        return []
    try:
        held = json.loads(path.read_text())
    except (OSError, ValueError):
        return []  # a torn or foreign file: made again
    if not isinstance(held, dict) or held.get("settings") != mirror_settings():
        return []
    kept = []
    for mine, theirs in zip(held.get("shards", []), shards):  # noqa: B905 (either may be longer)
        if mine != theirs:
            break
        kept.append(mine)
    return kept


def _cached_mirror(arrays: dict[str, np.ndarray], cache: Path, progress: bool) -> np.ndarray:
    clips = arrays["rgb"].shape[0]
    layout = [[*arrays["rgb"].shape[1:4], 3], np.dtype(MIRROR_DTYPE).str]
    path = cache / f"{MIRROR}.npy"
    with locked(cache):
        manifest = read_manifest(cache)
        if manifest is None:
            raise ValueError(f"{cache}: no {MANIFEST}; map the dataset through the cache first")
        wanted, total = [], 0
        for entry in manifest["shards"]:  # the shards of the clips asked for (a cache may hold more)
            if total >= clips:
                break
            wanted.append(entry)
            total += entry[3]
        kept = _covered(cache, wanted)
        done = sum(entry[3] for entry in kept)
        todo = wanted[len(kept):]
        if todo:
            if path.exists() and np.load(path, mmap_mode="r").shape[0] > done:
                claim_for_cutting(cache)
            resize_npy(path, layout, done)
        bar = progress_bar(len(todo), unit="shard", desc=f"mirror {cache}", disable=not progress or not todo)
        for entry in todo:
            append_npy(path, layout, _mirror_clips(arrays, done, done + entry[3]), done)
            done += entry[3]
            kept.append(entry)
            write_atomic(cache / f"{MIRROR}.json", json.dumps({"settings": mirror_settings(), "shards": kept}))
            bar.update()
        bar.close()
        read_lock(cache)  # cutting gave up this process's hold on the cache's files; mapping them takes it again
        return np.load(path, mmap_mode="r")[:clips]
