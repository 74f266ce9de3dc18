"""Paired training data: random scenes simulated and rendered into sharded clips.

A dataset directory holds ``shard_00000.npz …`` (each ``clips_per_shard`` clips of ``frames`` frames)
and ``dataset.json`` (how it was made). Shard ``i`` is a pure function of ``(seed, i)``, every shard
is written atomically, and generation skips shards already on disk, so a killed run resumes
without duplicating or losing clips. Arrays in a shard (``C`` clips, ``T`` frames, ``K`` object slots):

``rgb``/``albedo (C,T,H,W,3) uint8``, ``normals``/``world_position (C,T,H,W,3) float16``,
``depth (C,T,H,W) float16``, ``light_visibility (C,T,H,W) uint8``,
``segmentation (C,T,H,W) int16`` (−1 empty), ``material (C,T,H,W) uint8``,
``extrinsics (C,T,4,4)``, ``intrinsics (C,3,3)``, ``light (C,10)`` (direction xyz, colour rgb,
ambient, diffuse, specular, shadows), ``obj_color (C,K,4)``, ``obj_material (C,K)``,
``positions (C,T,K,3)``, ``present (C,T,K)``; for the Cycles look also ``pbr (C,T,H,W,3) uint8``
(roughness, metallic, specular × 255), ``area_light (C,T,H,W,3) float16`` (unshadowed area-light
irradiance, W/m², RGB) and ``environment (C,9)`` (:func:`environment_vector`).
``dataset.json`` records the teacher (``tiny`` or ``cycles``) and its settings.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from worldsim.errors import DataError
from worldsim.io import load_npz, save_npz, write_atomic

MAX_OBJECTS = 16
# Arrays holding one value per clip; every other shard array has a frame axis after the clip axis.
CLIP_KEYS = ("intrinsics", "light", "obj_color", "obj_material", "environment")
# What the path-traced look also depends on; in every shard written since the Cycles teacher exists.
PBR_KEYS = ("pbr", "area_light", "environment")
SHARD_KEYS = ("rgb", "albedo", "light_visibility", "normals", "world_position", "depth", "segmentation", "material", "extrinsics",
              "intrinsics", "light", "obj_color", "obj_material", "positions", "present")


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


def light_vector(spec) -> np.ndarray:
    """The global light controls as a (10,) vector."""
    light = spec.light
    direction = np.asarray(light.direction, dtype=np.float32)
    return np.concatenate([direction / np.linalg.norm(direction), np.asarray(light.color[:3], np.float32),
                           [light.ambient, light.diffuse, light.specular, float(light.shadows)]]).astype(np.float32)


def environment_vector(spec) -> np.ndarray:
    """The path-traced teacher's global lighting as a (9,) vector: sun strength / 5, sun angle / 10°,
    sky flag, horizon and zenith colours (linear) times the environment's strength."""
    from worldsim.materials import srgb_to_linear

    env, light = spec.environment, spec.light
    return np.concatenate([[light.strength / 5.0, light.angle_deg / 10.0, float(env.kind == "sky")],
                           srgb_to_linear(env.color[:3]) * env.strength,
                           srgb_to_linear(env.zenith_color[:3]) * env.strength]).astype(np.float32)


def pbr_map(spec, segmentation: np.ndarray) -> np.ndarray:
    """Per-pixel (roughness, metallic, specular) × 255 as ``uint8 (..., 3)``; 0 where empty."""
    lut = np.zeros((len(spec.bodies) + 1, 3), np.float32)
    lut[1:] = [body.pbr for body in spec.bodies]
    return np.round(lut[np.asarray(segmentation) + 1] * 255).astype(np.uint8)


def area_light_map(spec, world_position: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Unshadowed irradiance (W/m², RGB, linear) from the scene's area lights at every pixel, ``(..., 3)``.

    Each light is a small Lambertian emitter: E = P cos θ_light cos θ_surface / (π d²). Zero where
    ``normals`` is zero (empty space).
    """
    from worldsim.materials import srgb_to_linear

    out = np.zeros(world_position.shape[:-1] + (3,), np.float32)
    for light in spec.area_lights:
        pos = np.asarray(light.position, np.float32)
        axis = np.asarray(light.target, np.float32) - pos
        axis /= np.linalg.norm(axis)
        to_light = pos - world_position
        dist2 = np.maximum(np.sum(to_light * to_light, axis=-1), 1e-4)
        to_light = to_light / np.sqrt(dist2)[..., None]
        cos_surface = np.clip(np.sum(normals * to_light, axis=-1), 0, None)
        cos_light = np.clip(-(to_light @ axis), 0, None)
        e = light.power * cos_surface * cos_light / (np.pi * dist2)
        out += e[..., None] * srgb_to_linear(light.color[:3]).astype(np.float32)
    return out


def object_tokens(spec) -> tuple[np.ndarray, np.ndarray]:
    """Per-body colour (K,4) and material id (K,), padded to :data:`MAX_OBJECTS` slots."""
    from worldsim.materials import material_id

    color = np.zeros((MAX_OBJECTS, 4), np.float32)
    material = np.zeros((MAX_OBJECTS,), np.int16)
    for i, body in enumerate(spec.bodies[:MAX_OBJECTS]):
        color[i] = body.rgba
        material[i] = material_id(body.material)
    return color, material


def condition_arrays(spec, maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The renderer's inputs from ``maps.npz``-style arrays (leading T axis), in shard dtypes."""
    color, material = object_tokens(spec)
    return {
        "albedo": maps["albedo"],
        "normals": maps["normals"].astype(np.float16), "world_position": maps["world_position"].astype(np.float16),
        "depth": maps["depth"].astype(np.float16), "segmentation": maps["segmentation"].astype(np.int16),
        "material": maps["material"].astype(np.uint8), "light_visibility": maps["light_visibility"].astype(np.uint8),
        "extrinsics": maps["extrinsics"].astype(np.float32),
        "intrinsics": maps["intrinsics"].astype(np.float32), "light": light_vector(spec),
        "obj_color": color, "obj_material": material,
        "pbr": pbr_map(spec, maps["segmentation"]),
        "area_light": area_light_map(spec, maps["world_position"], maps["normals"]).astype(np.float16),
        "environment": environment_vector(spec),
    }


def _check_object_count(spec) -> None:
    if len(spec.bodies) > MAX_OBJECTS:
        raise DataError(f"scene {spec.name} has {len(spec.bodies)} bodies; the renderer supports {MAX_OBJECTS}")


def recording_arrays(rec) -> dict[str, np.ndarray]:
    """The per-clip arrays of a shard from a rendered :class:`~worldsim.recording.Recording`."""
    spec = rec.spec
    _check_object_count(spec)
    maps, state = rec.map_arrays(), rec.state_arrays()
    frames, n = len(rec.frames), len(spec.bodies)
    positions = np.zeros((frames, MAX_OBJECTS, 3), np.float32)
    present = np.zeros((frames, MAX_OBJECTS), bool)
    positions[:, :n], present[:, :n] = state["positions"], state["present"]
    return {"rgb": maps["rgb"], **condition_arrays(spec, maps), "positions": positions, "present": present}


def clip_arrays(spec, seed: int, frames: int, resolution: int | None = None, teacher: str = "tiny",
                cycles=None) -> dict[str, np.ndarray]:
    """Simulate and render one clip (``rgb`` from ``teacher``); returns the per-clip arrays of a shard."""
    from worldsim.recording import rollout

    _check_object_count(spec)  # before simulating
    res = (resolution, resolution) if resolution else None
    return recording_arrays(rollout(spec, seed=seed, frames=frames, resolution=res, teacher=teacher, cycles=cycles))


def frame_conditions(spec, frame) -> dict[str, np.ndarray]:
    """The renderer's inputs for one live frame (a :class:`~worldsim.teacher.gbuffer.Frame` of ``spec``'s world).

    Same keys and dtypes as one clip of a shard, with a frame axis of length 1, so
    ``Renderer.render_window`` takes a stack of these exactly as it takes shard clips.
    """
    from worldsim.recording import Recording

    return condition_arrays(spec, Recording(spec, frames=[frame]).map_arrays())


def scene_seed(seed: int, shard: int, clip: int, clips_per_shard: int) -> int:
    """The scene seed of one clip: disjoint across dataset seeds and clips."""
    return seed * 1_000_003 + shard * clips_per_shard + clip


def make_shard(config: DatasetConfig, shard: int) -> dict[str, np.ndarray]:
    """All clips of one shard, stacked."""
    from worldsim.teacher.cycles import CyclesOptions
    from worldsim.templates import random_scene

    cycles = CyclesOptions(samples=config.samples, denoise=config.denoise, threads=1) if config.teacher == "cycles" else None
    clips = []
    for c in range(config.clips_per_shard):
        s = scene_seed(config.seed, shard, c, config.clips_per_shard)
        spec = random_scene(s, config.resolution, config.frames_per_clip, look=config.teacher)
        clips.append(clip_arrays(spec, s, config.frames_per_clip, teacher=config.teacher, cycles=cycles))
    return {key: np.stack([clip[key] for clip in clips]) for key in SHARD_KEYS + PBR_KEYS}


def stored_keys(*arrays: dict[str, np.ndarray]) -> tuple[str, ...]:
    """The shard keys every one of ``arrays`` holds: :data:`SHARD_KEYS`, plus :data:`PBR_KEYS` where
    all of them have those (shards written before the Cycles teacher existed do not)."""
    return SHARD_KEYS + tuple(k for k in PBR_KEYS if all(k in a for a in arrays))


def shard_path(out: Path, shard: int) -> Path:
    """Where shard ``shard`` lives."""
    return Path(out) / f"shard_{shard:05d}.npz"


def _work(config: DatasetConfig, out: str, shard: int) -> int:
    save_npz(shard_path(Path(out), shard), compress=True, **make_shard(config, shard))
    return shard


def generate(out: str | Path, frames: int, resolution: int = 64, workers: int | None = None, seed: int = 0,
             frames_per_clip: int = 24, clips_per_shard: int = 8, progress: bool = True,
             ray_address: str | None = None, teacher: str = "tiny", samples: int = 32,
             denoise: bool = True) -> DatasetConfig:
    """Generate (or resume) a dataset of at least ``frames`` frames in ``out``.

    Shards are spread over ``workers`` local processes, or over Ray when ``ray_address`` is given
    (every Ray worker must see ``out``: a shared file system on a cluster). ``teacher="cycles"``
    path-traces the frames with ``samples`` per pixel (one thread per worker); the dataset can grow
    later by asking for more ``frames`` with the same settings.

    Raises:
        DataError: ``out`` holds a dataset made with different settings.
    """
    from worldsim.parallel import run_jobs

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_shard = frames_per_clip * clips_per_shard
    if teacher == "cycles":
        from worldsim.teacher.cycles import check_bpy

        check_bpy()  # say so before spawning workers
    elif teacher != "tiny":
        raise ValueError(f"unknown teacher {teacher!r}; expected tiny or cycles")
    config = DatasetConfig(seed, resolution, frames_per_clip, clips_per_shard, max(1, -(-frames // per_shard)),
                           teacher, samples, denoise)
    meta = out / "dataset.json"
    if meta.exists():
        old = {"teacher": "tiny", "samples": 32, "denoise": True, **json.loads(meta.read_text())}
        keys = ("seed", "resolution", "frames_per_clip", "clips_per_shard", "teacher", "samples", "denoise")
        mismatched = {k for k in keys if old.get(k) != asdict(config)[k]}
        if mismatched:
            raise DataError(f"{out} holds a dataset made with other settings ({', '.join(sorted(mismatched))}); "
                            "use another directory")
    write_atomic(meta, json.dumps(asdict(config), indent=2))
    todo = [i for i in range(config.num_shards) if not shard_path(out, i).exists()]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.num_shards * per_shard, initial=(config.num_shards - len(todo)) * per_shard,
                   unit="frame", desc="dataset")
    start = time.perf_counter()
    jobs = [(config, str(out.resolve()), i) for i in todo]
    for _ in run_jobs(_work, jobs, workers or os.cpu_count() or 1, ray_address):
        bar and bar.update(per_shard)
    if bar:
        bar.close()
        print(f"dataset: {config.num_shards} shards, {config.num_shards * per_shard} frames in {out} "
              f"({len(todo)} new shards in {time.perf_counter() - start:.1f}s)")
    return config


def read_shard(path: str | Path) -> dict[str, np.ndarray]:
    """Read one shard, refusing a truncated, corrupt, pickled or incomplete file with :class:`DataError`."""
    arrays = load_npz(path)
    missing = [k for k in SHARD_KEYS if k not in arrays]
    if missing:
        raise DataError(f"{path}: not a worldsim shard (missing {', '.join(missing)})")
    clips = arrays["rgb"].shape[0]
    if any(arrays[k].shape[0] != clips for k in stored_keys(arrays)):
        raise DataError(f"{path}: arrays disagree on the number of clips")
    return arrays


def load_dataset(root: str | Path, max_shards: int | None = None) -> dict[str, np.ndarray]:
    """All shards of a dataset concatenated along the clip axis."""
    paths = sorted(Path(root).glob("shard_*.npz"))[:max_shards]
    if not paths:
        raise DataError(f"{root}: no shard_*.npz files (generate with `worldsim dataset --out {root}`)")
    shards = [read_shard(p) for p in paths]
    return {key: np.concatenate([s[key] for s in shards]) for key in stored_keys(*shards)}
