"""Every visual triangle of a world in flat arrays, posed each frame, for :mod:`worldsim.teacher.raster`.

The shapes come from :func:`worldsim.teacher.visual_shapes.visual_shapes`, the list TinyRenderer
draws, so the maps agree with its pictures. Colours are read back from PyBullet each frame (one
``getVisualShapeData`` per body), so a ``changeVisualShape(rgbaColor=...)`` made after construction
is drawn as TinyRenderer would. PyBullet does not report a texture set after loading, so textures
are those :func:`worldsim.physics.builders.set_texture` applied (scene textures, the envs' visual
randomization), else the one the shape was loaded with: a texture set by calling
``pb.changeVisualShape(textureUniqueId=...)`` directly is not seen here.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numba
import numpy as np
import pybullet as pb

from worldsim.physics.world import PhysicsWorld
from worldsim.teacher.visual_shapes import shape_poses, visual_shapes


@dataclass
class Surfaces:
    """The colour of each shape now: base RGBA and texture (an index into ``textures`` or -1)."""

    rgba: np.ndarray  # (S, 4) float64
    texture: np.ndarray  # (S,) int64
    atlas: "Atlas"  # the textures in use


@dataclass(frozen=True)
class Atlas:
    """Texture images packed end to end, for compiled lookups: image k's RGB texels start at
    ``offsets[k]`` in ``texels``, row-major over its ``sizes[k]`` (rows, columns)."""

    texels: np.ndarray  # uint8, flat
    offsets: np.ndarray  # (K,) int64
    sizes: np.ndarray  # (K, 2) int64


@functools.lru_cache(maxsize=16)
def atlas(paths: tuple[str, ...]) -> Atlas:
    """The :class:`Atlas` of texture files, built once per set of files."""
    images = [texture_image(path) for path in paths]
    flat = [image.reshape(-1) for image in images] or [np.zeros(3, np.uint8)]
    offsets = np.cumsum([0] + [len(f) for f in flat])[:-1].astype(np.int64)
    sizes = np.array([image.shape[:2] for image in images] or [(1, 1)], dtype=np.int64)
    return Atlas(np.concatenate(flat), offsets, sizes)


@functools.lru_cache(maxsize=32)
def texture_image(path: str) -> np.ndarray:
    """A texture file as ``uint8 (h, w, 3)``, read once per process (read-only: it is shared)."""
    from PIL import Image

    with Image.open(path) as img:
        out = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    out.flags.writeable = False
    return out


@numba.njit(cache=True, nogil=True)
def _transform(vertices, shape_start, matrices, out):  # pragma: no cover
    """``out[v] = matrices[s] @ (vertices[v], 1)`` for the shape ``s`` owning each vertex (compiled: numpy
    paid a call per shape)."""
    for s in range(matrices.shape[0]):
        m = matrices[s]
        for v in range(shape_start[s], shape_start[s + 1]):
            x, y, z = vertices[v, 0], vertices[v, 1], vertices[v, 2]
            for r in range(4):
                out[v, r] = m[r, 0] * x + m[r, 1] * y + m[r, 2] * z + m[r, 3]


class SceneMesh:
    """The triangles of a world's visual shapes: local vertices, per-shape poses, UVs and colours.

    Args:
        world: the world; shapes of zero alpha are kept (they are skipped per frame, as
            TinyRenderer skips them), so hiding a shape needs no rebuild.
    """

    def __init__(self, world: PhysicsWorld):
        self._world = weakref.ref(world)  # weak: the per-world cache below must not keep worlds alive
        self.shapes = visual_shapes(world)
        verts, faces, uvs, shape_of_face = [], [], [], []
        base = 0
        for s, shape in enumerate(self.shapes):
            v = np.asarray(shape.mesh.vertices, np.float64)
            verts.append(v)
            faces.append(np.asarray(shape.mesh.faces, np.int64) + base)
            uvs.append(shape.uv if shape.uv is not None else np.zeros((len(v), 2), np.float32))
            shape_of_face.append(np.full(len(shape.mesh.faces), s, np.int64))
            base += len(v)
        self.vertices = np.concatenate(verts)  # in each shape's own visual frame
        self.faces = np.concatenate(faces)
        self.uv = np.concatenate(uvs).astype(np.float64)
        self.face_shape = np.concatenate(shape_of_face)
        self.shape_start = np.cumsum([0] + [len(v) for v in verts])  # shape s owns vertices [start[s], start[s+1])
        self.shape_body = np.array([s.body for s in self.shapes], dtype=np.int64)
        self.face_body = self.shape_body[self.face_shape]
        self._drawn: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def faces_of(self, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The faces of the shapes where ``shapes (S,)`` is True: their indices into :attr:`faces` and
        their vertex triples. Remembered per mask: a scene draws the same few sets frame after frame."""
        key = np.packbits(shapes).tobytes()
        if key not in self._drawn:
            if len(self._drawn) >= 64:  # masks that keep changing (randomized alphas) do not pile up
                self._drawn.clear()
            index = np.flatnonzero(shapes[self.face_shape])
            triples = self.faces[index]
            index.flags.writeable = triples.flags.writeable = False  # shared by every frame that draws them
            self._drawn[key] = (index, triples)
        return self._drawn[key]

    @property
    def world(self) -> PhysicsWorld:
        world = self._world()
        if world is None:
            raise RuntimeError("the world of this SceneMesh was closed and collected")
        return world

    def _rows(self) -> list[tuple]:
        kw = {"physicsClientId": self.world.client}
        by_uid = {uid: pb.getVisualShapeData(uid, **kw) for uid in dict.fromkeys(s.uid for s in self.shapes)}
        seen: dict[int, int] = {}
        rows = []
        for shape in self.shapes:  # visual_shapes lists each body's rows in PyBullet's order
            i = seen.get(shape.uid, 0)
            rows.append(by_uid[shape.uid][i])
            seen[shape.uid] = i + 1
        return rows

    def shape_poses(self) -> np.ndarray:
        """The world transform (S, 4, 4) of each shape in the world's current state."""
        return shape_poses(self.world, self.shapes)

    def vertices_under(self, matrices: np.ndarray) -> np.ndarray:
        """Every vertex (V, 4) under its shape's ``matrices (S, 4, 4)`` (e.g. projection @ view @ shape pose)."""
        out = np.empty((len(self.vertices), 4))
        _transform(self.vertices, self.shape_start, np.ascontiguousarray(matrices, np.float64), out)
        return out

    def surfaces(self) -> Surfaces:
        """The shapes' colours and textures now."""
        from worldsim.physics.builders import applied_textures

        applied = applied_textures(self.world.client)
        index: dict[str, int] = {}
        chosen = []
        for shape in self.shapes:
            path = applied.get((shape.uid, shape.link), shape.texture)
            if path is not None and path not in index:
                index[path] = len(index)
            chosen.append(-1 if path is None else index[path])
        rgba = np.array([row[7] for row in self._rows()], dtype=np.float64)
        return Surfaces(rgba, np.array(chosen, dtype=np.int64), atlas(tuple(index)))


_MESHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def scene_mesh(world: PhysicsWorld) -> SceneMesh:
    """The :class:`SceneMesh` of ``world``, built on first use and kept as long as the world is."""
    mesh = _MESHES.get(world)
    if mesh is None:
        mesh = _MESHES[world] = SceneMesh(world)
    return mesh
