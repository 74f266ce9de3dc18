"""Turning validated body specs into PyBullet bodies (one function per body kind)."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as pb

from worldsim.errors import SceneError
from worldsim.io import cache_dir, write_atomic
from worldsim.physics.decimate import VISUAL_FACE_BUDGET, light_urdf
from worldsim.physics.meshes import mesh_as_obj
from worldsim.scene.mass import body_mass
from worldsim.scene.schema import (
    BodyBase,
    BoxBody,
    CapsuleBody,
    CheckerTexture,
    CylinderBody,
    ImageTexture,
    MeshBody,
    PlaneBody,
    SphereBody,
    UrdfBody,
)
from worldsim.scene.settings import PhysicsSettings, contact_values

# A plane collides as a box this wide with its top face on the plane, not as Bullet's plane shape:
# the convex-plane algorithm keeps one contact point per step, and a 1 cm box that landed on an edge
# settled 2.5 mm into such a plane, still spinning at 10 rad/s; box-box contacts hold it at 0.01 mm.
PLANE_HALF_EXTENT = 1000.0  # m
PLANE_THICKNESS = 1.0  # m


@dataclass
class BuiltBody:
    """What the world needs to remember about a body it created."""

    uid: int
    mass: float
    joints: dict[str, int] = field(default_factory=dict)  # movable joint name -> joint index
    links: dict[str, int] = field(default_factory=dict)  # link name -> link index (URDFs)


def orientation_xyzw(body: BodyBase) -> list[float]:
    """The body's orientation as a quaternion xyzw (Euler angles are roll, pitch, yaw in degrees
    about the fixed x, y, z axes, PyBullet's convention)."""
    if body.orientation is not None:
        return list(body.orientation)
    if body.euler_deg is not None:
        return list(pb.getQuaternionFromEuler([math.radians(a) for a in body.euler_deg]))
    return [0.0, 0.0, 0.0, 1.0]


# What each client's textures hold, for renderers outside PyBullet: ``getVisualShapeData`` reports the
# texture a shape was loaded with, never one set later by ``changeVisualShape``.
_TEXTURE_FILES: dict[int, dict[int, str]] = {}  # client -> texture id -> file
_APPLIED: dict[int, dict[tuple[int, int], str | None]] = {}  # client -> (uid, link) -> file or None


def load_texture(path: str, client: int) -> int:
    """``pb.loadTexture``, remembering which file the returned id holds."""
    tex = pb.loadTexture(path, physicsClientId=client)
    _TEXTURE_FILES.setdefault(client, {})[tex] = path
    return tex


def set_texture(uid: int, link: int, texture: int, client: int, **change) -> None:
    """``pb.changeVisualShape(textureUniqueId=texture, **change)`` (-1: no texture), remembered for
    :func:`applied_textures`; ``texture`` must come from :func:`load_texture`."""
    pb.changeVisualShape(uid, link, textureUniqueId=texture, physicsClientId=client, **change)
    path = _TEXTURE_FILES.get(client, {}).get(texture) if texture >= 0 else None
    _APPLIED.setdefault(client, {})[(uid, link)] = path


def applied_textures(client: int) -> dict[tuple[int, int], str | None]:
    """The textures set through :func:`set_texture` in ``client``: ``(uid, link)`` -> file, or None
    where the texture was removed. Shapes not listed keep the texture they were loaded with."""
    return _APPLIED.get(client, {})


def forget_textures(client: int) -> None:
    """Drop a disconnected client's records (a new client may reuse its number)."""
    _TEXTURE_FILES.pop(client, None)
    _APPLIED.pop(client, None)


def texture_file(texture: CheckerTexture | ImageTexture) -> str:
    """An image file for a texture spec (procedural checkers are drawn into the cache)."""
    if isinstance(texture, ImageTexture):
        return texture.image
    key = hashlib.sha1(repr((texture.checker, texture.color_a, texture.color_b)).encode()).hexdigest()[:16]
    path = cache_dir("textures") / f"checker_{key}.png"
    if not path.exists():
        import imageio.v3 as iio

        cell = max(4, 256 // texture.checker)
        idx = (np.indices((cell * texture.checker,) * 2) // cell).sum(0) % 2
        a = np.asarray(texture.color_a[:3]) * 255
        b = np.asarray(texture.color_b[:3]) * 255
        img = np.where(idx[..., None] == 0, a, b).astype(np.uint8)
        write_atomic(path, iio.imwrite("<bytes>", img, extension=".png"))
    return str(path)


def _plane_obj(size: list[float]) -> str:
    """A rectangle mesh with UVs 0..1, so a texture spans the whole floor (GEOM_BOX UVs do not)."""
    hx, hy = size[0] / 2, size[1] / 2
    path = cache_dir("meshes") / f"plane_{hx:g}_{hy:g}.obj"
    if not path.exists():
        text = (f"v {-hx} {-hy} 0\nv {hx} {-hy} 0\nv {hx} {hy} 0\nv {-hx} {hy} 0\n"
                "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\nf 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\n")
        write_atomic(path, text)
    return str(path)


def _decomposed(obj: str, client: int) -> str:
    """V-HACD convex decomposition (PyBullet's built-in), cached by mesh content."""
    key = hashlib.sha1(Path(obj).read_bytes()).hexdigest()[:16]
    out = cache_dir("vhacd") / f"{key}.obj"
    if not out.exists():
        tmp = f"{out}.tmp{os.getpid()}.obj"
        pb.vhacd(obj, tmp, os.devnull, physicsClientId=client)
        os.replace(tmp, out)
    return str(out)


def _shapes(body: BodyBase, client: int) -> tuple[int, int]:
    """Create (collision, visual) shapes for a primitive, plane or mesh body."""
    rgba = body.rgba
    kw = {"physicsClientId": client}
    if isinstance(body, BoxBody):
        half = [s / 2 for s in body.size]
        return (pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, **kw),
                pb.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=rgba, **kw))
    if isinstance(body, SphereBody):
        return (pb.createCollisionShape(pb.GEOM_SPHERE, radius=body.radius, **kw),
                pb.createVisualShape(pb.GEOM_SPHERE, radius=body.radius, rgbaColor=rgba, **kw))
    if isinstance(body, (CylinderBody, CapsuleBody)):
        geom = pb.GEOM_CYLINDER if isinstance(body, CylinderBody) else pb.GEOM_CAPSULE
        return (pb.createCollisionShape(geom, radius=body.radius, height=body.length, **kw),
                pb.createVisualShape(geom, radius=body.radius, length=body.length, rgbaColor=rgba, **kw))
    if isinstance(body, PlaneBody):
        half = [PLANE_HALF_EXTENT, PLANE_HALF_EXTENT, PLANE_THICKNESS / 2]
        return (pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, collisionFramePosition=[0, 0, -half[2]], **kw),
                pb.createVisualShape(pb.GEOM_MESH, fileName=_plane_obj(body.size), rgbaColor=rgba, **kw))
    if isinstance(body, MeshBody):
        obj = mesh_as_obj(body.file)
        scale = body.scale3
        visual = pb.createVisualShape(pb.GEOM_MESH, fileName=obj, meshScale=scale, rgbaColor=rgba, **kw)
        mode = body.collision_mode
        if mode == "exact":
            collision = pb.createCollisionShape(pb.GEOM_MESH, fileName=obj, meshScale=scale,
                                                flags=pb.GEOM_FORCE_CONCAVE_TRIMESH, **kw)
        elif mode == "convex_decomposition":
            collision = pb.createCollisionShape(pb.GEOM_MESH, fileName=_decomposed(obj, client), meshScale=scale, **kw)
        else:  # PyBullet uses the convex hull of a mesh's vertices for a moving body
            collision = pb.createCollisionShape(pb.GEOM_MESH, fileName=obj, meshScale=scale, **kw)
        return collision, visual
    raise TypeError(type(body).__name__)


def _set_dynamics(uid: int, body: BodyBase, links: list[int], physics: PhysicsSettings, client: int) -> None:
    values = contact_values(body, physics, from_file=isinstance(body, UrdfBody))
    for link in links:
        pb.changeDynamics(uid, link, physicsClientId=client, **values)
    if body.ccd:
        # Swept-sphere CCD on the base: a sphere inside the shape is swept along each step's motion.
        pb.changeDynamics(uid, -1, ccdSweptSphereRadius=0.9 * _inner_radius(body), physicsClientId=client)


def _inner_radius(body: BodyBase) -> float:
    """Radius of a sphere that fits inside the body's collision shape (for CCD)."""
    if isinstance(body, BoxBody):
        return min(body.size) / 2
    if isinstance(body, CylinderBody):
        return min(body.radius, body.length / 2)
    if isinstance(body, (SphereBody, CapsuleBody)):
        return body.radius
    if isinstance(body, MeshBody):
        from worldsim.scene.meshes import solid_mesh

        return float(min(solid_mesh(body.file).extents * np.asarray(body.scale3))) / 2
    raise TypeError(f"ccd is for primitives and meshes (validation refuses it elsewhere), not {type(body).__name__}")


def build_body(body: BodyBase, index: int, client: int, physics: PhysicsSettings | None = None,
               visual_faces: int | None = None) -> BuiltBody:
    """Create one body in the PyBullet client and set its contact properties and velocities.

    Args:
        body: the validated body.
        index: its index in the scene (for error fields).
        client: the PyBullet client.
        physics: the scene's contact and damping defaults (default: :class:`PhysicsSettings` defaults).
        visual_faces: triangles per URDF visual mesh file (default
            :data:`~worldsim.physics.decimate.VISUAL_FACE_BUDGET`); small images can take fewer.
    """
    if isinstance(body, UrdfBody):
        built = _build_urdf(body, index, client, visual_faces or VISUAL_FACE_BUDGET)
        links = [-1] + list(range(pb.getNumJoints(built.uid, physicsClientId=client)))
    else:
        collision, visual = _shapes(body, client)
        mass = body_mass(body)
        # Bullet sweeps only maximal-coordinate rigid bodies for CCD, so a ccd body is made as one.
        uid = pb.createMultiBody(mass, collision, visual, body.position, orientation_xyzw(body),
                                 useMaximalCoordinates=body.ccd, physicsClientId=client)
        built = BuiltBody(uid=uid, mass=mass)
        links = [-1]
    if body.texture is not None:
        tex = load_texture(texture_file(body.texture), client)
        for link in links:
            set_texture(built.uid, link, tex, client)
    _set_dynamics(built.uid, body, links, physics or PhysicsSettings(), client)
    if not body.collide:
        for link in links:
            pb.setCollisionFilterGroupMask(built.uid, link, 0, 0, physicsClientId=client)
    if not body.static:
        pb.resetBaseVelocity(built.uid, body.linear_velocity, body.angular_velocity, physicsClientId=client)
    return built


def _build_urdf(body: UrdfBody, index: int, client: int, visual_faces: int) -> BuiltBody:
    try:
        # visual meshes decimated (worldsim.physics.decimate); collision and dynamics as in the file
        uid = pb.loadURDF(light_urdf(body.file, visual_faces), body.position, orientation_xyzw(body), useFixedBase=body.static,
                          globalScaling=body.scale, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
    except pb.error as exc:  # e.g. a mesh the URDF names is missing
        raise SceneError(f"PyBullet cannot load {body.file}: {exc}", field=f"bodies[{index}].file") from None
    joints: dict[str, int] = {}
    links: dict[str, int] = {}
    mass = pb.getDynamicsInfo(uid, -1, physicsClientId=client)[0]
    for j in range(pb.getNumJoints(uid, physicsClientId=client)):
        info = pb.getJointInfo(uid, j, physicsClientId=client)
        mass += pb.getDynamicsInfo(uid, j, physicsClientId=client)[0]
        links[info[12].decode()] = j
        if info[2] in (pb.JOINT_REVOLUTE, pb.JOINT_PRISMATIC):
            joints[info[1].decode()] = j
    for name, j in joints.items():
        target = body.joint_positions.get(name, 0.0)
        pb.resetJointState(uid, j, target, physicsClientId=client)
        # Hold every joint where it starts; otherwise an arm folds under gravity before any command.
        pb.setJointMotorControl2(uid, j, pb.POSITION_CONTROL, targetPosition=target, force=200.0,
                                 physicsClientId=client)
    if not body.keep_urdf_colors:
        for link in [-1, *range(pb.getNumJoints(uid, physicsClientId=client))]:
            pb.changeVisualShape(uid, link, rgbaColor=body.rgba, physicsClientId=client)
    return BuiltBody(uid=uid, mass=float(mass), joints=joints, links=links)
