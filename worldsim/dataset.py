"""Paired training data: random scenes simulated and rendered into sharded clips.

A dataset directory holds ``shard_00000.npz …`` (each ``clips_per_shard`` clips of ``frames`` frames)
and ``dataset.json`` (how it was made). Shard ``i`` is a pure function of ``(seed, i)``, every shard
is written atomically, and generation skips shards already on disk, so a killed run resumes
without duplicating or losing clips. A shard holds, with a leading clip axis, the teacher's
``rgb (C,T,H,W,3) uint8`` and the condition arrays of :mod:`worldsim.conditioning.arrays`.
``dataset.json`` records the teacher (``tiny`` or ``cycles``), its settings, the scene split and the
map pass that drew the condition maps (:data:`worldsim.recording.MAP_PASSES`: ``raster`` for Cycles,
whose meshes it shares; each shard holds its own as ``map_pass``). Shards whose maps came from
another pass are redrawn (:func:`remap_shards`), keeping their frames: no path tracing again.

This module only makes and reads shards; what the renderer sees is :mod:`worldsim.conditioning`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from worldsim.conditioning.arrays import KEYS, from_frames
from worldsim.errors import ConfigError, DataError
from worldsim.io import append_npz, load_npz, npz_shapes, save_npz, write_atomic
from worldsim.progress import progress_bar

SHARD_KEYS = ("rgb",) + KEYS
# Arrays added after shards were first written: `generate` adds them to older shards (upgrade_shards).
UPGRADABLE_KEYS = ("area_specular",)


@dataclass
class DatasetConfig:
    """How a dataset is made; saved as ``dataset.json`` and checked on resume."""

    seed: int = 0
    resolution: int = 64
    frames_per_clip: int = 24
    clips_per_shard: int = 8
    num_shards: int = 1
    teacher: str = "tiny"  # "tiny" (TinyRenderer) or "cycles" (path traced; scenes also vary PBR and lighting)
    samples: int = 32  # Cycles samples per pixel
    denoise: bool = True  # Cycles denoising
    split: str = "train"  # which assets the scenes draw from (worldsim.templates: train or heldout)
    map_pass: str = "tiny"  # what drew the condition maps (worldsim.recording.MAP_PASSES); older datasets: tiny


def recording_arrays(rec) -> dict[str, np.ndarray]:
    """One clip of a shard from a rendered :class:`~worldsim.recording.Recording`."""
    return {"rgb": np.stack([f.rgb for f in rec.frames]), **from_frames(rec.spec, rec.frames)}


def clip_arrays(spec, seed: int, frames: int, resolution: int | None = None, teacher: str = "tiny",
                cycles=None, map_pass: str | None = None) -> dict[str, np.ndarray]:
    """Simulate and render one clip (``rgb`` from ``teacher``, maps from ``map_pass``); returns one clip of a shard."""
    from worldsim.recording import rollout

    res = (resolution, resolution) if resolution else None
    return recording_arrays(rollout(spec, seed=seed, frames=frames, resolution=res, teacher=teacher, cycles=cycles,
                                    map_pass=map_pass))


def scene_seed(seed: int, shard: int, clip: int, clips_per_shard: int) -> int:
    """The scene seed of one clip: disjoint across dataset seeds and clips."""
    return seed * 1_000_003 + shard * clips_per_shard + clip


def clip_scene(config: DatasetConfig, shard: int, clip: int):
    """The scene seed and :class:`~worldsim.scene.schema.SceneSpec` of one clip of a shard."""
    from worldsim.templates import random_scene

    s = scene_seed(config.seed, shard, clip, config.clips_per_shard)
    return s, random_scene(s, config.resolution, config.frames_per_clip, look=config.teacher, split=config.split)


def _shard_index(path: Path) -> int:
    return int(path.stem.split("_")[1])


def make_shard(config: DatasetConfig, shard: int) -> dict[str, np.ndarray]:
    """All clips of one shard, stacked."""
    from worldsim.teacher.cycles import CyclesOptions

    cycles = CyclesOptions(samples=config.samples, denoise=config.denoise, threads=1) if config.teacher == "cycles" else None
    clips = []
    for c in range(config.clips_per_shard):
        s, spec = clip_scene(config, shard, c)
        clips.append(clip_arrays(spec, s, config.frames_per_clip, teacher=config.teacher, cycles=cycles,
                                 map_pass=config.map_pass))
    return {**{key: np.stack([clip[key] for clip in clips]) for key in SHARD_KEYS}, "map_pass": np.array(config.map_pass)}


def shard_path(out: Path, shard: int) -> Path:
    """Where shard ``shard`` lives."""
    return Path(out) / f"shard_{shard:05d}.npz"


def _work(config: DatasetConfig, out: str, shard: int) -> int:
    save_npz(shard_path(Path(out), shard), compress=True, **make_shard(config, shard))
    return shard


def generate(out: str | Path, frames: int, resolution: int = 64, workers: int | None = None, seed: int = 0,
             frames_per_clip: int = 24, clips_per_shard: int = 8, progress: bool = True,
             ray_address: str | None = None, teacher: str = "tiny", samples: int = 32,
             denoise: bool = True, split: str = "train", shards: tuple[int, int | None] | None = None
             ) -> DatasetConfig:
    """Generate (or resume) a dataset of at least ``frames`` frames in ``out``.

    Shards are spread over ``workers`` local processes, or over Ray when ``ray_address`` is given
    (every Ray worker must see ``out``: a shared file system on a cluster). ``teacher="cycles"``
    path-traces the frames with ``samples`` per pixel (one thread per worker); the dataset can grow
    later by asking for more ``frames`` with the same settings. ``shards=(start, stop)`` makes only
    the shards with those indices (``stop`` None: to the end): each shard is a function of the seed
    and its index, so machines or sessions can split a dataset between them, or grow it past what a
    model has already seen first.

    Raises:
        DataError: ``out`` holds a dataset made with different settings.
        ConfigError: ``shards`` is empty or reaches past the dataset's last shard.
    """
    from worldsim.parallel import run_jobs
    from worldsim.recording import default_map_pass

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_shard = frames_per_clip * clips_per_shard
    if teacher == "cycles":
        from worldsim.teacher.cycles import check_bpy

        check_bpy()  # say so before spawning workers
    elif teacher != "tiny":
        raise ValueError(f"unknown teacher {teacher!r}; expected tiny or cycles")
    config = DatasetConfig(seed, resolution, frames_per_clip, clips_per_shard, max(1, -(-frames // per_shard)),
                           teacher, samples, denoise, split, default_map_pass(teacher))
    wanted = _shard_range(config, shards)  # before anything is written
    meta = out / "dataset.json"
    if meta.exists():
        old = {"teacher": "tiny", "samples": 32, "denoise": True, "split": "train", **json.loads(meta.read_text())}
        keys = ("seed", "resolution", "frames_per_clip", "clips_per_shard", "teacher", "samples", "denoise", "split")
        mismatched = {k for k in keys if old.get(k) != asdict(config)[k]}
        if mismatched:
            raise DataError(f"{out} holds a dataset made with other settings ({', '.join(sorted(mismatched))}); "
                            "use another directory")
    remap_shards(config, out, progress)  # before dataset.json says so: a kill in between redoes the rest
    write_atomic(meta, json.dumps(asdict(config), indent=2))
    upgrade_shards(config, out, progress)
    todo = [i for i in wanted if not shard_path(out, i).exists()]
    bar = None
    # Named up front as well as at the end: an open --shards START: stops at the shard --frames sizes.
    span = f"shards {wanted.start}-{wanted.stop - 1} of {config.num_shards}"
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(wanted) * per_shard, initial=(len(wanted) - len(todo)) * per_shard,
                   unit="frame", desc=f"dataset {span}")
    start = time.perf_counter()
    jobs = [(config, str(out.resolve()), i) for i in todo]
    for _ in run_jobs(_work, jobs, workers or os.cpu_count() or 1, ray_address):
        bar and bar.update(per_shard)
    if bar:
        bar.close()
        print(f"dataset: {span}, "
              f"{len(wanted) * per_shard} frames in {out} ({len(todo)} new shards in {time.perf_counter() - start:.1f}s)")
    return config


def _shard_range(config: DatasetConfig, shards: tuple[int, int | None] | None) -> range:
    """The shard indices ``generate`` makes: ``shards`` as (start, stop), checked against the dataset's size."""
    if shards is None:
        return range(config.num_shards)
    start, stop = shards[0], config.num_shards if shards[1] is None else shards[1]
    if not 0 <= start < stop <= config.num_shards:
        raise ConfigError(f"shards {start}:{stop} are not a range within the dataset's {config.num_shards} shards "
                          f"(0:{config.num_shards}; ask for more --frames to grow it)")
    return range(start, stop)


# A rebuilt clip's segmentation may differ from the stored one where the passes' meshes differ (at
# 256², TinyRenderer's coarse spheres and capsules: at most 1.1 % of a frame's pixels on the eval
# scenes); far more means another scene than the one the frames show.
REMAP_MAX_DISAGREEMENT = 0.05


def shard_map_pass(path: Path, header: dict | None = None) -> str:
    """The map pass that drew a shard's maps: its ``map_pass`` array; ``tiny`` for shards older than it.
    ``header``: the shard's :func:`~worldsim.io.npz_shapes`, when already read."""
    header = npz_shapes(path) if header is None else header
    return str(load_npz(path, ("map_pass",))["map_pass"]) if "map_pass" in header else "tiny"


def remap_shards(config: DatasetConfig, out: str | Path, progress: bool = True) -> int:
    """Redraw the condition maps of ``out``'s shards whose maps another pass drew, with ``config.map_pass``.

    Each clip's scene is rebuilt from its seed and simulated again (the physics is deterministic); the
    frames (``rgb``) are kept, so a Cycles dataset moves to the maps that line up with its frames
    without path-tracing it again. Each shard is rewritten atomically, so a killed run resumes.
    Returns how many shards were redrawn.

    Raises:
        DataError: a rebuilt clip's bodies disagree with its shard on more than
            ``REMAP_MAX_DISAGREEMENT`` of the pixels (names the shard, the clip and the seed).
    """
    stale = [path for path in sorted(Path(out).glob("shard_*.npz")) if shard_map_pass(path) != config.map_pass]
    if not stale:
        return 0
    bar = progress_bar(total=len(stale), unit="shard", desc=f"redraw old shards' maps with {config.map_pass}",
                       disable=not progress)
    for path in stale:
        stored = load_npz(path, ("rgb", "segmentation"))  # the maps are drawn again, whatever else it holds
        clips = [_remapped_clip(config, path, c, seg) for c, seg in enumerate(stored["segmentation"])]
        arrays = {key: np.stack([clip[key] for clip in clips]) for key in SHARD_KEYS}
        save_npz(path, compress=True, **{**arrays, "rgb": stored["rgb"]}, map_pass=np.array(config.map_pass))
        bar.update(1)
    bar.close()
    return len(stale)


def _remapped_clip(config: DatasetConfig, path: Path, clip: int, segmentation: np.ndarray) -> dict[str, np.ndarray]:
    s, spec = clip_scene(config, _shard_index(path), clip)
    arrays = clip_arrays(spec, s, config.frames_per_clip, teacher="none", map_pass=config.map_pass)
    if arrays["segmentation"].shape != segmentation.shape:
        raise DataError(f"{path}: clip {clip}: its scene, rebuilt from seed {s}, is {arrays['segmentation'].shape} "
                        f"frames x pixels, the shard {segmentation.shape}; delete the shard and generate it again")
    disagree = float(np.mean(arrays["segmentation"] != segmentation))
    if disagree > REMAP_MAX_DISAGREEMENT:
        raise DataError(f"{path}: clip {clip}: its scene, rebuilt from seed {s}, puts other bodies on "
                        f"{disagree:.1%} of the pixels than the shard (the scene generator or the physics changed); "
                        "delete the shard and generate it again")
    return arrays


def upgrade_shards(config: DatasetConfig, out: str | Path, progress: bool = True) -> int:
    """Add the condition arrays worldsim learned to make after ``out``'s shards were written
    (``UPGRADABLE_KEYS``: today ``area_specular``) to those shards, so a dataset stays usable without path-tracing it again;
    ``generate`` does this before it resumes. Returns how many shards were upgraded.

    Each clip's scene is rebuilt from its seed, and its ``area_light`` map (from the same lights and
    the stored geometry) must match the stored one, so a scene generator that changed since is
    caught instead of pairing the frames with another scene's lights.

    Raises:
        DataError: a clip's rebuilt scene disagrees with its shard (names the shard and the clip).
    """
    stale = [path for path in sorted(Path(out).glob("shard_*.npz")) if "area_specular" not in npz_shapes(path)]
    if not stale:
        return 0
    bar = progress_bar(total=len(stale), unit="shard", desc="add area_specular to old shards", disable=not progress)
    for path in stale:
        append_npz(path, area_specular=_area_specular(config, path))
        bar.update(1)
    bar.close()
    return len(stale)


def _area_specular(config: DatasetConfig, path: Path) -> np.ndarray:
    from worldsim.conditioning.arrays import area_light_map
    from worldsim.conditioning.specular import area_specular_map

    # the geometry and lights only: the frames and the other maps (most of a shard) stay compressed
    arrays = load_npz(path, ("world_position", "normals", "pbr", "extrinsics", "area_light"))
    shard, out = _shard_index(path), []
    for c in range(arrays["area_light"].shape[0]):
        s, spec = clip_scene(config, shard, c)
        position, normals = arrays["world_position"][c].astype(np.float32), arrays["normals"][c].astype(np.float32)
        lights, stored = area_light_map(spec, position, normals), arrays["area_light"][c].astype(np.float32)
        # relative to the whole map: a few pixels at a light's edge differ by float16 rounding of positions
        if np.abs(lights - stored).sum() > 1e-3 * max(np.abs(stored).sum(), 1.0):
            raise DataError(f"{path}: clip {c}: its scene, rebuilt from seed {s}, lights it differently than when "
                            "the shard was made (the scene generator changed); delete the shard and generate it again")
        out.append(area_specular_map(spec, position, normals, arrays["pbr"][c], arrays["extrinsics"][c]))
    return np.stack(out).astype(np.float16)


def read_shard(path: str | Path) -> dict[str, np.ndarray]:
    """Read one shard's :data:`SHARD_KEYS`, refusing a truncated, corrupt, pickled or incomplete file with :class:`DataError`."""
    arrays = load_npz(path)
    missing = [k for k in SHARD_KEYS if k not in arrays]
    if missing and set(missing) <= set(UPGRADABLE_KEYS):
        raise DataError(f"{path}: made before {', '.join(missing)} existed; rerun the `worldsim dataset` command "
                        "that made it (it adds the array to old shards, then resumes)")
    if missing:
        raise DataError(f"{path}: not a worldsim shard (missing {', '.join(missing)})")
    clips = arrays["rgb"].shape[0]
    if any(arrays[k].shape[0] != clips for k in SHARD_KEYS):
        raise DataError(f"{path}: arrays disagree on the number of clips")
    return {k: arrays[k] for k in SHARD_KEYS}  # the per-clip arrays; the shard's map_pass is read apart


def _shard_headers(paths: list[Path]) -> list[dict[str, tuple[tuple[int, ...], np.dtype]]]:
    """Each shard's array shapes and dtypes, from its headers alone, so a bad shard is refused (by name)
    before any is decompressed: one missing an array, or one whose arrays differ per clip from the first's."""
    headers: list[dict] = []
    for path in paths:
        header = npz_shapes(path)
        if any(key not in header for key in SHARD_KEYS):
            read_shard(path)  # refuses it, naming what is missing
        first = headers[0] if headers else header
        for key in SHARD_KEYS:
            (shape, dtype), (first_shape, first_dtype) = header[key], first[key]
            if shape[1:] != first_shape[1:] or dtype != first_dtype:
                raise DataError(f"{path}: {key} is {dtype} {shape[1:]} per clip, but {paths[0].name} has "
                                f"{first_dtype} {first_shape[1:]}; a dataset's shards must agree")
        headers.append(header)
    return headers


def checked_shards(root: str | Path, max_shards: int | None = None) -> tuple[list[Path], list[dict]]:
    """A dataset's shard paths (the first ``max_shards``) and their headers, refusing, by name, a shard
    that lacks an array, disagrees with the first's shapes, or whose maps another pass drew."""
    paths = sorted(Path(root).glob("shard_*.npz"))[:max_shards]
    if not paths:
        raise DataError(f"{root}: no shard_*.npz files (generate with `worldsim dataset --out {root}`)")
    headers = _shard_headers(paths)
    passes = {path.name: shard_map_pass(path, header) for path, header in zip(paths, headers, strict=True)}
    if len(set(passes.values())) > 1:
        odd = next(name for name, p in passes.items() if p != passes[paths[0].name])
        raise DataError(f"{root}: {paths[0].name}'s maps were drawn by the {passes[paths[0].name]} pass, {odd}'s by "
                        f"the {passes[odd]} pass; rerun the `worldsim dataset` command that made it (it redraws them)")
    return paths, headers


def available_memory() -> int | None:
    """Bytes of memory the kernel can still give this process (Linux's MemAvailable), None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_fits(root: str | Path, size: int) -> None:
    """Refuse, before filling it, a dataset larger than the memory left: the kernel would kill the run
    minutes later without a word; a memory-mapped cache holds any size."""
    free = available_memory()
    if free is not None and size > free:
        raise DataError(f"{root}: its shards take {size / 1e9:.1f} GB decompressed, but only {free / 1e9:.1f} GB "
                        "of memory is available; train with --data-cache DIR (memory-mapped copies) or fewer shards")


def load_dataset(root: str | Path, max_shards: int | None = None,
                 cache: str | Path | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """All shards of a dataset (or of a pack, :mod:`worldsim.pack`) concatenated along the clip axis.

    The arrays are sized from the shards' headers first and filled one shard at a time, so loading
    holds the dataset and one shard, not every shard and then their concatenation too (a 111-shard
    256² dataset: 8.8 GB, where twice that left no room for a second training on 24 GiB).

    Args:
        root: the dataset (or pack) directory.
        max_shards: read only the first this many shards.
        cache: memory-map the arrays from uncompressed copies kept in this directory
            (:mod:`worldsim.memmap`) instead of holding them in RAM, for a dataset larger than RAM.
        progress: show a bar over the shards read (or copied into ``cache``).
    """
    from worldsim.pack import is_pack, load_pack

    if is_pack(root):
        if cache is not None:
            raise ConfigError(f"{root} is a pack (for a GPU machine, read into its memory); a data cache "
                              "memory-maps a dataset's shards: give the dataset the pack was made from")
        return load_pack(root, max_shards)
    paths, headers = checked_shards(root, max_shards)
    if cache is not None:
        from worldsim.memmap import load_cached

        return load_cached(paths, headers, cache, progress=progress)
    first, clips = headers[0], [header["rgb"][0][0] for header in headers]
    _check_fits(root, sum(clips) * sum(int(np.prod(first[k][0][1:])) * np.dtype(first[k][1]).itemsize
                                      for k in SHARD_KEYS))
    out = {key: np.empty((sum(clips), *first[key][0][1:]), first[key][1]) for key in SHARD_KEYS}
    at = 0
    bar = progress_bar(len(paths), unit="shard", desc=f"loading {root}", disable=not progress)
    for path, n in zip(paths, clips, strict=True):
        shard = read_shard(path)
        for key in SHARD_KEYS:
            out[key][at:at + n] = shard[key]
        at += n
        bar.update()
    bar.close()
    return out
