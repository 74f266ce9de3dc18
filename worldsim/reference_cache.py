"""A disk cache of path-traced reference clips, so ``worldsim eval`` path-traces each held-out clip once.

Cycles takes seconds per 256² frame on a CPU, and an eval draws the same held-out clips every time
it is run: 16 reference frames at 256² cost minutes per call, the model's own frames seconds. A
cached clip is reused only while everything that decides its pixels is unchanged:

- the scene (its JSON) and the frame count, size and seed;
- the physics and the map pass: a digest of the clip's segmentation, depth and albedo maps, which
  the cheap map pass recomputes on every call, so a change to the physics, the meshes or a texture
  misses the cache instead of showing old positions;
- the Cycles options, Blender's version and the source of the modules the Cycles teacher draws with
  (``TEACHER_SOURCES``; not the rest of the package, so a change to the map pass alone keeps the
  pictures, which it cannot change).

Entries are npz files of uint8 frames under ``cache_dir("references")``, written atomically and
read without pickle; an unreadable or mis-shaped entry is rendered again.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from worldsim.errors import DataError
from worldsim.io import cache_dir, load_npz, save_npz

VERSION = 1  # bump when the meaning of an entry changes
TEACHER_SOURCES = tuple(Path(__file__).resolve().parent / "teacher" / f"{name}.py"
                        for name in ("cycles", "camera", "visual_shapes"))


@functools.cache
def _teacher_digest() -> str:
    """Blender's version and the source of the Cycles teacher: what draws the pictures besides the
    scene (read once per process, not once per clip)."""
    import bpy

    h = hashlib.sha1(bpy.app.version_string.encode())
    for path in TEACHER_SOURCES:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def clip_key(spec, seed: int, maps: dict[str, np.ndarray], options) -> str:
    """The cache key of a path-traced clip.

    Args:
        spec: the :class:`~worldsim.scene.schema.SceneSpec`.
        seed: the physics seed.
        maps: the clip's condition maps (``segmentation``, ``depth``, ``albedo``, each ``(T, H, W, ...)``).
        options: the :class:`~worldsim.teacher.cycles.CyclesOptions`.
    """
    h = hashlib.sha1(f"{VERSION}:{seed}:{sorted(asdict(options).items())}:{_teacher_digest()}".encode())
    h.update(spec.model_dump_json().encode())
    for name in ("segmentation", "depth", "albedo"):
        array = np.ascontiguousarray(maps[name])
        h.update(f"{name}{array.shape}{array.dtype}".encode() + array.tobytes())
    return h.hexdigest()[:24]


def entry_path(key: str) -> Path:
    """Where the clip of ``key`` is stored."""
    return cache_dir("references") / f"{key}.npz"


def load(key: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached frames ``uint8 shape (T, H, W, 3)`` of ``key``, or None when absent or unreadable."""
    path = entry_path(key)
    if not path.exists():
        return None
    try:
        rgb = load_npz(path).get("rgb")
    except DataError:  # a truncated or foreign file: render again
        return None
    return rgb if rgb is not None and rgb.shape == shape and rgb.dtype == np.uint8 else None


def store(key: str, rgb: np.ndarray) -> None:
    """Keep the frames ``uint8 (T, H, W, 3)`` of ``key`` (atomically)."""
    save_npz(entry_path(key), rgb=np.asarray(rgb, np.uint8))
