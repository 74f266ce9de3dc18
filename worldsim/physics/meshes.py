"""Preparing mesh files PyBullet can load.

PyBullet reads only OBJ (and STL for collision); trimesh reads obj/stl/glb/gltf/ply/off, so every
other mesh is converted once into a content-addressed cache (:func:`worldsim.io.cache_dir`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from worldsim.io import cache_dir, write_atomic
from worldsim.scene.meshes import load_mesh


def _file_key(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


def mesh_as_obj(path: str) -> str:
    """Return an OBJ version of ``path`` (the file itself when it already is one)."""
    if Path(path).suffix.lower() == ".obj":
        return path
    out = cache_dir("meshes") / f"{_file_key(path)}.obj"
    if not out.exists():
        # atomic: a concurrent dataset worker never reads a half-written file
        write_atomic(out, load_mesh(path).export(file_type="obj", include_texture=False))
    return str(out)
