"""Mesh files as the scene format checks them: read with trimesh, closed or not, how much volume.

Validation needs only trimesh, so checking a scene never loads PyBullet. Files exported with UVs or
normals keep a vertex per seam (trimesh splits vertices where texture coordinates or normals
differ), which leaves a closed surface looking open; the checks merge vertices by position alone.
"""

from __future__ import annotations

import functools
from pathlib import Path

from worldsim.errors import MeshError

MAX_FACES = 500_000  # beyond this TinyRenderer and V-HACD take minutes per frame/body


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
    """Load a mesh with trimesh (UVs and materials kept), raising :class:`MeshError` naming the file."""
    return _load(path, Path(path).stat().st_mtime)


@functools.lru_cache(maxsize=256)
def _solid(path: str, mtime: float):
    import trimesh

    mesh = _load(path, mtime)
    # A new mesh from positions and faces alone: process=True merges vertices by position only.
    return trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=True)


def solid_mesh(path: str):
    """The mesh's surface with vertices merged by position (seams closed): what mass and closure use."""
    return _solid(path, Path(path).stat().st_mtime)


def check_mesh_file(path: str, dynamic: bool) -> None:
    """Refuse meshes that would break the simulation.

    Raises:
        MeshError: unreadable, empty, too large, degenerate (no extent or area), or, for a moving
            body, not closed once seams are merged (its mass and inertia would be meaningless).
    """
    mesh = load_mesh(path)
    if len(mesh.faces) > MAX_FACES:
        raise MeshError(f"mesh {path} has {len(mesh.faces)} faces; at most {MAX_FACES} are supported (decimate it)")
    extents = mesh.extents
    if not (extents > 1e-6).sum() >= 2 or mesh.area <= 1e-12:
        raise MeshError(f"mesh {path} is degenerate (extents {extents.tolist()}, area {mesh.area:g})")
    if dynamic:
        solid = solid_mesh(path)
        if not solid.is_watertight:
            raise MeshError(
                f"mesh {path} is not watertight (open or non-manifold even with vertices merged by position); "
                "a moving body needs a closed mesh for its mass and inertia: repair it or make the body static"
            )
        if (extents > 1e-6).sum() < 3 or abs(solid.volume) <= 1e-12:
            raise MeshError(f"mesh {path} encloses no volume; a moving body needs one")


def mesh_volume(path: str, scale: list[float]) -> float:
    """Volume (m³) of the closed mesh after scaling (used to turn a density into a mass)."""
    return abs(float(solid_mesh(path).volume)) * scale[0] * scale[1] * scale[2]
