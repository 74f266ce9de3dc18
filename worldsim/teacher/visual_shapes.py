"""The triangles PyBullet draws, as trimesh meshes with world poses, for renderers outside PyBullet.

Everything comes from ``getVisualShapeData``, the same list TinyRenderer draws, so a second
renderer (Blender Cycles, :mod:`worldsim.teacher.cycles`) sees exactly the same bodies, links, meshes,
scales, colours and textures as the reference pass and its condition maps. Poses are read each
frame with :func:`shape_poses`.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as pb

from worldsim.physics.world import PhysicsWorld
from worldsim.teacher.camera import quat_to_matrix

SPHERE_SUBDIVISIONS = 3  # 642 vertices: smooth at 128² and below


@dataclass
class VisualShape:
    """One visual shape of one link: a local mesh and where it sits on its link."""

    body: int  # index into spec.bodies
    uid: int
    link: int  # -1 for the base
    kind: str  # box, sphere, cylinder, capsule, mesh
    mesh: object  # trimesh.Trimesh in the visual frame, already scaled
    local: np.ndarray  # (4, 4) visual frame in the link frame
    rgba: np.ndarray  # (4,)
    texture: str | None  # image file multiplying the base colour, or None
    smooth: bool  # shade with interpolated vertex normals (curved primitives and meshes), else flat
    uv: np.ndarray | None  # (V, 2) float32 texture coordinates per vertex, or None


def pose_matrix(position, quaternion) -> np.ndarray:
    """A 4x4 rigid transform from a position and an xyzw quaternion."""
    out = np.eye(4)
    out[:3, :3] = quat_to_matrix(np.asarray(quaternion, dtype=float))
    out[:3, 3] = position
    return out


def pose_matrices(positions, quaternions) -> np.ndarray:
    """:func:`pose_matrix` of many poses at once: ``(N, 3)`` positions, ``(N, 4)`` xyzw quaternions → ``(N, 4, 4)``.
    One set of array operations instead of N small ones (a Panda's 12 links cost 0.3 ms a frame so)."""
    q = np.asarray(quaternions, dtype=float)
    x, y, z, w = (q / np.sqrt(np.einsum("nk,nk->n", q, q))[:, None]).T
    out = np.zeros((len(q), 4, 4))
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = 1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)
    out[:, 2, 0], out[:, 2, 1], out[:, 2, 2] = 2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)
    out[:, :3, 3], out[:, 3, 3] = positions, 1.0
    return out


def _box(extents) -> object:
    """A box with 24 vertices and per-face UVs 0..1, so faces shade flat and a texture covers each face."""
    import trimesh

    half = np.asarray(extents, dtype=float) / 2
    verts, faces, uvs = [], [], []
    for axis in range(3):
        for sign in (1.0, -1.0):
            u_axis, v_axis = [a for a in range(3) if a != axis]
            if sign < 0:
                u_axis, v_axis = v_axis, u_axis  # keep the winding outward
            base = len(verts)
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = np.zeros(3)
                p[axis], p[u_axis], p[v_axis] = sign * half[axis], du * half[u_axis], dv * half[v_axis]
                verts.append(p)
                uvs.append(((du + 1) / 2, (dv + 1) / 2))
            faces += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    mesh = trimesh.Trimesh(np.array(verts), np.array(faces), process=False)
    mesh.visual = trimesh.visual.TextureVisuals(uv=np.array(uvs))
    return mesh


@functools.lru_cache(maxsize=64)
def _mesh_file(path: str) -> tuple[object, str | None]:
    """A mesh file's triangles (vertices split by UV and normal, as in the file) and its texture image."""
    import warnings

    import trimesh

    with warnings.catch_warnings():  # trimesh warns about NaN UVs in some OBJ files (the Panda's); harmless
        warnings.simplefilter("ignore", RuntimeWarning)
        mesh = trimesh.load(path, force="mesh", process=False, maintain_order=True)
    # Blender crashes on a polygon that repeats a vertex, and on the zero normals of vertices no face
    # uses (trimesh's OBJ reader leaves some when parts index v/vt/vn differently).
    mesh.update_faces(mesh.nondegenerate_faces(height=None))
    mesh.remove_unreferenced_vertices()
    image = None
    material = getattr(mesh.visual, "material", None)
    if material is not None and _declares_texture(path):
        img = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
        if img is not None:
            image = _save_texture(img, path)
    return mesh, image


def _declares_texture(path: str) -> bool:
    """Whether a mesh file names a colour texture (trimesh invents a 2x2 image for an OBJ without one)."""
    if not path.lower().endswith(".obj"):
        return True
    folder = Path(path).parent
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("mtllib"):
            mtl = folder / line.split(maxsplit=1)[1].strip()
            if mtl.exists() and "map_Kd" in mtl.read_text(errors="replace"):
                return True
    return False


def _save_texture(img, source: str) -> str:
    """Write a PIL texture image from a mesh's material into the cache; returns the file."""
    import hashlib

    from worldsim.io import cache_dir

    key = hashlib.sha1(f"{source}:{Path(source).stat().st_mtime}".encode()).hexdigest()[:16]
    out = cache_dir("textures") / f"mesh_{key}.png"
    if not out.exists():
        tmp = out.with_suffix(f".tmp{id(img)}.png")
        img.convert("RGB").save(tmp)
        tmp.replace(out)
    return str(out)


def _primitive(kind: int, dims) -> tuple[str, object]:
    import trimesh

    if kind == pb.GEOM_BOX:
        return "box", _box(dims)
    if kind == pb.GEOM_SPHERE:
        return "sphere", trimesh.creation.icosphere(subdivisions=SPHERE_SUBDIVISIONS, radius=dims[0])
    if kind == pb.GEOM_CYLINDER:
        return "cylinder", trimesh.creation.cylinder(radius=dims[1], height=dims[0], sections=48).smooth_shaded
    if kind == pb.GEOM_CAPSULE:
        return "capsule", trimesh.creation.capsule(height=dims[0], radius=dims[1], count=[48, 24])
    raise ValueError(f"visual geometry type {kind} is not supported")


def _uv(mesh) -> np.ndarray | None:
    uv = getattr(mesh.visual, "uv", None) if mesh.visual.kind == "texture" else None
    return None if uv is None or len(uv) != len(mesh.vertices) else np.asarray(uv, dtype=np.float32)


def visual_shapes(world: PhysicsWorld) -> list[VisualShape]:
    """Every visual shape of every body in ``world``, in body order."""
    from worldsim.physics.builders import texture_file

    shapes = []
    for index, built in enumerate(world.bodies):
        body = world.spec.bodies[index]
        body_texture = texture_file(body.texture) if getattr(body, "texture", None) is not None else None
        for row in pb.getVisualShapeData(built.uid, physicsClientId=world.client):
            _, link, kind, dims, filename, local_pos, local_orn, rgba = row[:8]
            texture = body_texture
            if kind == pb.GEOM_MESH:
                mesh, file_texture = _mesh_file(filename.decode())
                mesh = mesh.copy()
                mesh.apply_scale(np.asarray(dims, dtype=float))
                # trimesh gives the file's normals where it has them, else area-weighted averages
                name, smooth = "mesh", True
                texture = texture or file_texture
            else:
                name, mesh = _primitive(kind, dims)
                smooth = name != "box"
            shapes.append(VisualShape(index, built.uid, link, name, mesh, pose_matrix(local_pos, local_orn),
                                      np.asarray(rgba, dtype=float), texture, smooth, _uv(mesh)))
    return shapes


def _rigid_inverse(pose: np.ndarray) -> np.ndarray:
    """The inverse of a rigid 4x4 transform (transpose the rotation; no LAPACK call, whose threads
    spin on a busy 2-core machine)."""
    out = np.eye(4)
    out[:3, :3] = pose[:3, :3].T
    out[:3, 3] = -pose[:3, :3].T @ pose[:3, 3]
    return out


_INERTIAL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # world -> {uid: inverse inertial offset}


def _inertial_inverse(world: PhysicsWorld, uid: int) -> np.ndarray:
    """The inverse of a body's inertial frame in its base link frame: fixed at load, so read once per world."""
    cache = _INERTIAL.setdefault(world, {})
    if uid not in cache:
        inertial_pos, inertial_orn = pb.getDynamicsInfo(uid, -1, physicsClientId=world.client)[3:5]
        cache[uid] = _rigid_inverse(pose_matrix(inertial_pos, inertial_orn))
    return cache[uid]


def _frames(world: PhysicsWorld, uids: list[int]) -> tuple[np.ndarray, dict[tuple[int, int], int]]:
    """Every link frame of ``uids`` as ``(N, 4, 4)`` world transforms, from one batched quaternion
    conversion, and the row of each ``(uid, link)`` (link -1: the base)."""
    kw = {"physicsClientId": world.client}
    positions, quaternions, index, bases = [], [], {}, []
    for uid in uids:
        com_pos, com_orn = pb.getBasePositionAndOrientation(uid, **kw)
        index[(uid, -1)] = len(positions)
        bases.append((len(positions), uid))
        positions.append(com_pos)
        quaternions.append(com_orn)
        n = pb.getNumJoints(uid, **kw)
        if n:
            for link, state in enumerate(pb.getLinkStates(uid, list(range(n)), computeForwardKinematics=True, **kw)):
                index[(uid, link)] = len(positions)
                positions.append(state[4])
                quaternions.append(state[5])
    poses = pose_matrices(positions, quaternions)
    for row, uid in bases:
        # The base pose PyBullet reports is the inertial frame; the URDF link frame sits at its inverse offset.
        poses[row] = poses[row] @ _inertial_inverse(world, uid)
    return poses, index


def shape_poses(world: PhysicsWorld, shapes: list[VisualShape]) -> np.ndarray:
    """The current world transform of every shape, ``(S, 4, 4)``."""
    poses, index = _frames(world, list(dict.fromkeys(s.uid for s in shapes)))
    rows = [index[(s.uid, s.link)] for s in shapes]
    return np.matmul(poses[rows], np.stack([s.local for s in shapes]))
