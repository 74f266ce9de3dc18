"""Mesh files: checking them with trimesh and preparing OBJ files PyBullet can load.

PyBullet reads only OBJ (and STL for collision); trimesh reads obj/stl/glb/gltf/ply/off, so every
mesh is converted once into a content-addressed cache (``$WORLDSIM_CACHE`` or ``~/.cache/worldsim``).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from worldsim.errors import MeshError
from worldsim.io import write_atomic

MAX_FACES = 500_000  # beyond this TinyRenderer and V-HACD take minutes per frame/body


def cache_dir(kind: str) -> Path:
    """A per-kind cache directory, created on first use."""
    root = Path(os.environ.get("WORLDSIM_CACHE", Path.home() / ".cache" / "worldsim"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file_key(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _load(path: str, mtime: float):
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as exc:  # trimesh raises many types for bad files; all mean "unreadable"
        raise MeshError(f"cannot read mesh {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise MeshError(f"mesh {path} has no triangles")
    return mesh


def load_mesh(path: str):
    """Load a mesh with trimesh, raising :class:`MeshError` with the file name on any failure."""
    return _load(path, Path(path).stat().st_mtime)


def check_mesh_file(path: str, dynamic: bool) -> None:
    """Refuse meshes that would break the simulation.

    Raises:
        MeshError: unreadable, empty, too large, degenerate (no extent or area), or, for a moving
            body, not watertight (its mass and inertia would be meaningless).
    """
    mesh = load_mesh(path)
    if len(mesh.faces) > MAX_FACES:
        raise MeshError(f"mesh {path} has {len(mesh.faces)} faces; at most {MAX_FACES} are supported (decimate it)")
    extents = mesh.extents
    if not (extents > 1e-6).sum() >= 2 or mesh.area <= 1e-12:
        raise MeshError(f"mesh {path} is degenerate (extents {extents.tolist()}, area {mesh.area:g})")
    if dynamic:
        if not mesh.is_watertight:
            raise MeshError(
                f"mesh {path} is not watertight (non-manifold); a moving body needs a closed mesh "
                "for its mass and inertia: repair it or make the body static"
            )
        if (extents > 1e-6).sum() < 3 or abs(mesh.volume) <= 1e-12:
            raise MeshError(f"mesh {path} encloses no volume; a moving body needs one")


def mesh_as_obj(path: str) -> str:
    """Return an OBJ version of ``path`` (the file itself when it already is one)."""
    if Path(path).suffix.lower() == ".obj":
        return path
    out = cache_dir("meshes") / f"{_file_key(path)}.obj"
    if not out.exists():
        # atomic: a concurrent dataset worker never reads a half-written file
        write_atomic(out, load_mesh(path).export(file_type="obj", include_texture=False))
    return str(out)


def mesh_volume(path: str, scale: list[float]) -> float:
    """Volume of the mesh after scaling (used to turn a density into a mass)."""
    mesh = load_mesh(path)
    return abs(float(mesh.volume)) * scale[0] * scale[1] * scale[2]
