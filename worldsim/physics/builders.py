"""Turning validated body specs into PyBullet bodies (one function per body kind)."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pybullet as pb

from worldsim.errors import SceneError
from worldsim.io import write_atomic
from worldsim.physics.meshes import cache_dir, mesh_as_obj, mesh_volume
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

DEFAULT_DENSITY = 500.0  # kg/m^3 (light wood) when a moving body gives neither mass nor density


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


def primitive_volume(body: BodyBase) -> float:
    """Volume (m^3) of a primitive body, used to turn a density into a mass."""
    if isinstance(body, BoxBody):
        return float(np.prod(body.size))
    if isinstance(body, SphereBody):
        return 4.0 / 3.0 * math.pi * body.radius**3
    if isinstance(body, CylinderBody):
        return math.pi * body.radius**2 * body.length
    if isinstance(body, CapsuleBody):
        return math.pi * body.radius**2 * body.length + 4.0 / 3.0 * math.pi * body.radius**3
    if isinstance(body, MeshBody):
        return mesh_volume(body.file, body.scale3)
    raise TypeError(type(body).__name__)


def body_mass(body: BodyBase) -> float:
    """Mass in kg: 0 for static bodies, else the given mass or density times volume."""
    if body.static:
        return 0.0
    if body.mass is not None:
        return float(body.mass)
    return float((body.density or DEFAULT_DENSITY) * primitive_volume(body))


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
    key = hashlib.sha1(open(obj, "rb").read()).hexdigest()[:16]
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
        return (pb.createCollisionShape(pb.GEOM_PLANE, **kw),
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


def _set_dynamics(uid: int, body: BodyBase, links: list[int], client: int) -> None:
    for link in links:
        pb.changeDynamics(uid, link, lateralFriction=body.friction, rollingFriction=body.rolling_friction,
                          spinningFriction=body.spinning_friction, restitution=body.restitution,
                          linearDamping=body.linear_damping, angularDamping=body.angular_damping,
                          physicsClientId=client)


def build_body(body: BodyBase, index: int, client: int) -> BuiltBody:
    """Create one body in the PyBullet client and set its contact properties and velocities.

    Raises:
        SceneError: a URDF names joints it does not have (field ``bodies[index].joint_positions``).
    """
    if isinstance(body, UrdfBody):
        built = _build_urdf(body, index, client)
        links = [-1] + list(range(pb.getNumJoints(built.uid, physicsClientId=client)))
    else:
        collision, visual = _shapes(body, client)
        mass = body_mass(body)
        uid = pb.createMultiBody(mass, collision, visual, body.position, orientation_xyzw(body),
                                 physicsClientId=client)
        built = BuiltBody(uid=uid, mass=mass)
        links = [-1]
    if body.texture is not None:
        tex = pb.loadTexture(texture_file(body.texture), physicsClientId=client)
        for link in links:
            pb.changeVisualShape(built.uid, link, textureUniqueId=tex, physicsClientId=client)
    _set_dynamics(built.uid, body, links, client)
    if not body.collide:
        for link in links:
            pb.setCollisionFilterGroupMask(built.uid, link, 0, 0, physicsClientId=client)
    if not body.static:
        pb.resetBaseVelocity(built.uid, body.linear_velocity, body.angular_velocity, physicsClientId=client)
    return built


def _build_urdf(body: UrdfBody, index: int, client: int) -> BuiltBody:
    try:
        uid = pb.loadURDF(body.file, body.position, orientation_xyzw(body), useFixedBase=body.static,
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
    unknown = sorted(set(body.joint_positions) - set(joints))
    if unknown:
        raise SceneError(f"joint(s) {', '.join(unknown)} not in {os.path.basename(body.file)}; "
                         f"movable joints are {', '.join(joints)}", field=f"bodies[{index}].joint_positions")
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
