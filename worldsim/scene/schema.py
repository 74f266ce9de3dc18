"""The scene format: what a YAML file under ``scenes/`` (or the Python API) may say.

Validated by pydantic: every model forbids unknown keys, scalars are strict (no ``"1.0"`` for a
number), numbers are finite, and cross-field rules (mass *or* density, events naming real bodies)
are checked in validators. :mod:`worldsim.scene.loader` turns pydantic's errors into a
:class:`~worldsim.errors.SceneError` naming the file and the field path (``bodies[3].mass``).
Cameras and lights live in :mod:`worldsim.scene.view`, events in :mod:`worldsim.scene.events`;
this module holds the bodies and the whole :class:`SceneSpec`, and re-exports the rest.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from worldsim.materials import MATERIALS, PBR_DEFAULTS
from worldsim.scene.assets import resolve_asset
from worldsim.scene.constraints import (  # noqa: F401  (re-exported: the whole format is importable from here)
    BallConstraint,
    Constraint,
    FixedConstraint,
    HingeConstraint,
)
from worldsim.scene.events import (  # noqa: F401  (re-exported)
    Event,
    EventBase,
    ForceEvent,
    ImpulseEvent,
    JointTargetEvent,
    RemoveEvent,
    SetDynamicsEvent,
    SetGravityEvent,
    SetVelocityEvent,
    SpawnEvent,
)
from worldsim.scene.settings import (  # noqa: F401  (re-exported)
    MAX_STEPS_PER_FRAME,
    ContactFields,
    PhysicsSettings,
    SimSettings,
)
from worldsim.scene.types import (
    Bool,
    Color,
    Float,
    Name,
    PositiveFloat,
    PositiveInt,
    PositiveVec2,
    PositiveVec3,
    Quaternion,
    Strict_,
    UnitFloat,
    Vec3,
)
from worldsim.scene.urdf import urdf_info
from worldsim.scene.view import AreaLight, Camera, Environment, Light  # noqa: F401  (re-exported)


class FieldError(ValueError):
    """A cross-field rule broken at ``field`` (a path like ``events[2].body``), relative to the
    model whose validator raises it; the loader puts the path into :class:`SceneError`."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class CheckerTexture(Strict_):
    """A procedural checker texture, drawn into an image file at build time."""

    checker: PositiveInt = 8
    color_a: Color = [0.9, 0.9, 0.9]
    color_b: Color = [0.25, 0.25, 0.6]


class ImageTexture(Strict_):
    """An image file used as texture (path relative to the scene file, or in pybullet_data)."""

    image: str

    @field_validator("image")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        return resolve_asset(value, info.context, kinds=(".png", ".jpg", ".jpeg", ".tga", ".bmp"))


Texture = Union[CheckerTexture, ImageTexture]


class BodyBase(ContactFields):
    """Fields every body has: identity, pose, appearance, contact properties (from
    :class:`ContactFields`; unset ones take the scene's ``physics:`` defaults) and initial motion."""

    name: Name
    position: Vec3 = [0.0, 0.0, 0.0]
    orientation: Quaternion | None = None
    euler_deg: Vec3 | None = None
    static: Bool = False
    mass: PositiveFloat | None = None
    density: PositiveFloat | None = None
    # Continuous collision detection: a small, fast body cannot tunnel through thin walls.
    ccd: Bool = False
    linear_velocity: Vec3 = [0.0, 0.0, 0.0]
    angular_velocity: Vec3 = [0.0, 0.0, 0.0]
    color: Color = [0.8, 0.8, 0.8, 1.0]
    texture: Texture | None = None
    material: str = "default"
    active: Bool = True
    # False makes a visual-only marker (e.g. a goal ghost): drawn, but no contacts and no shadow rays.
    collide: Bool = True
    # Physically based surface for the path-traced teacher; None takes the named material's default
    # (materials.PBR_DEFAULTS). TinyRenderer ignores them.
    roughness: UnitFloat | None = None
    metallic: UnitFloat | None = None
    specular: UnitFloat | None = None

    @field_validator("material")
    @classmethod
    def _known_material(cls, value: str) -> str:
        if value not in MATERIALS:
            raise ValueError(f"unknown material {value!r}; expected one of {', '.join(MATERIALS)}")
        return value

    @field_validator("orientation")
    @classmethod
    def _unit_quaternion(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        norm = math.sqrt(sum(v * v for v in value))
        if norm < 1e-6:
            raise ValueError("quaternion (xyzw) must not be all zeros")
        return [v / norm for v in value]

    @model_validator(mode="after")
    def _consistent(self) -> "BodyBase":
        if self.orientation is not None and self.euler_deg is not None:
            raise ValueError("give either orientation (quaternion xyzw) or euler_deg, not both")
        if self.mass is not None and self.density is not None:
            raise ValueError("give either mass or density, not both")
        if self.static and (self.mass is not None or self.density is not None):
            raise ValueError("a static body has no mass or density")
        if not self.collide and not self.static:
            raise ValueError("collide: false needs static: true (a body without collisions would fall forever)")
        if self.ccd and self.static:
            raise ValueError("ccd is for moving bodies; a static body never tunnels")
        return self

    @property
    def pbr(self) -> tuple[float, float, float]:
        """(roughness, metallic, specular) with the material's defaults filled in."""
        defaults = PBR_DEFAULTS[self.material]
        given = (self.roughness, self.metallic, self.specular)
        return tuple(float(d if g is None else g) for g, d in zip(given, defaults, strict=False))  # type: ignore[return-value]

    @property
    def rgba(self) -> list[float]:
        """Colour with alpha, whether the scene gave RGB or RGBA."""
        return list(self.color) + [1.0] * (4 - len(self.color))


class BoxBody(BodyBase):
    """A box; ``size`` is the full edge lengths (x, y, z) in metres."""

    type: Literal["box"]
    size: PositiveVec3


class SphereBody(BodyBase):
    """A sphere of the given radius."""

    type: Literal["sphere"]
    radius: PositiveFloat


class CylinderBody(BodyBase):
    """A cylinder along the body's z axis; ``length`` is the full height."""

    type: Literal["cylinder"]
    radius: PositiveFloat
    length: PositiveFloat


class CapsuleBody(BodyBase):
    """A capsule along z; ``length`` is the cylinder part between the two hemispheres."""

    type: Literal["capsule"]
    radius: PositiveFloat
    length: PositiveFloat


class PlaneBody(BodyBase):
    """An infinite static collision plane (normal = body +z) drawn as a ``size`` rectangle."""

    type: Literal["plane"]
    size: PositiveVec2 = [20.0, 20.0]
    static: Bool = True
    material: str = "ground"

    @field_validator("static")
    @classmethod
    def _always_static(cls, value: bool) -> bool:
        if not value:
            raise ValueError("a plane is always static")
        return value


class MeshBody(BodyBase):
    """A mesh file loaded with trimesh (obj, stl, glb, gltf, ply, off).

    ``collision``: ``convex_hull`` (default for moving bodies), ``convex_decomposition`` (V-HACD,
    for concave moving bodies) or ``exact`` (the triangle mesh itself, static bodies only).
    """

    type: Literal["mesh"]
    file: str
    scale: Annotated[list[PositiveFloat], Field(min_length=1, max_length=3)] = [1.0]
    collision: Literal["convex_hull", "convex_decomposition", "exact"] | None = None

    @field_validator("file")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        return resolve_asset(value, info.context, kinds=(".obj", ".stl", ".glb", ".gltf", ".ply", ".off"))

    @model_validator(mode="after")
    def _mesh_rules(self) -> "MeshBody":
        if self.collision == "exact" and not self.static:
            raise ValueError("collision 'exact' (concave triangle mesh) is only for static bodies")
        if len(self.scale) == 2:
            raise ValueError("scale is one number or three")
        from worldsim.scene.meshes import check_mesh_file  # trimesh only when a mesh is used

        check_mesh_file(self.file, dynamic=not self.static)
        return self

    @property
    def scale3(self) -> list[float]:
        """Scale per axis."""
        return list(self.scale) * 3 if len(self.scale) == 1 else list(self.scale)

    @property
    def collision_mode(self) -> str:
        """The collision mode with the static/dynamic default filled in."""
        return self.collision or ("exact" if self.static else "convex_hull")


class UrdfBody(BodyBase):
    """An articulated body from a URDF file (e.g. ``franka_panda/panda.urdf`` from pybullet_data).

    ``static`` fixes the base; ``joint_positions`` maps joint names to initial positions (rad or m).
    Masses come from the URDF. ``color`` recolours every link unless ``keep_urdf_colors`` is true.
    """

    type: Literal["urdf"]
    file: str
    scale: PositiveFloat = 1.0
    joint_positions: dict[str, Float] = {}
    keep_urdf_colors: Bool = True
    material: str = "robot"

    @field_validator("file")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        path = resolve_asset(value, info.context, kinds=(".urdf",))
        urdf_info(path)  # refuses a file that is not URDF XML (PyBullet would only say "cannot load")
        return path

    @model_validator(mode="after")
    def _urdf_rules(self) -> "UrdfBody":
        if self.mass is not None or self.density is not None:
            raise ValueError("a URDF body takes its masses from the URDF; remove mass/density")
        if self.ccd:
            raise FieldError("ccd", "ccd works on primitive and mesh bodies, not URDFs")
        movable = self.movable_joints
        unknown = sorted(set(self.joint_positions) - set(movable))
        if unknown:
            raise FieldError("joint_positions", f"joint(s) {', '.join(unknown)} not in {self.file.rsplit('/', 1)[-1]}; "
                             f"movable joints are {', '.join(movable) or '(none)'}")
        return self

    @property
    def movable_joints(self) -> tuple[str, ...]:
        """Names of the URDF's revolute, continuous and prismatic joints, in file order."""
        return urdf_info(self.file).movable_joints


Body = Annotated[
    Union[BoxBody, SphereBody, CylinderBody, CapsuleBody, PlaneBody, MeshBody, UrdfBody],
    Field(discriminator="type"),
]


class Distribution(Strict_):
    """A randomization range: exactly one of uniform, normal, randint or choice."""

    uniform: list[Any] | None = None
    normal: list[Any] | None = None
    randint: list[Any] | None = None
    choice: list[Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Distribution":
        given = [k for k in ("uniform", "normal", "randint", "choice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, normal, randint, choice")
        kind = given[0]
        value = getattr(self, kind)
        if kind != "choice" and len(value) != 2:
            raise ValueError(f"{kind} takes two values, e.g. {kind}: [0.5, 2.0]")
        if kind == "choice" and not value:
            raise ValueError("choice needs at least one option")
        return self


class SceneSpec(Strict_):
    """A whole scene: settings, bodies, cameras, light, scripted events and randomization."""

    name: Name = "scene"
    description: str = ""
    sim: SimSettings = SimSettings()
    physics: PhysicsSettings = PhysicsSettings()
    bodies: Annotated[list[Body], Field(min_length=1)]
    cameras: Annotated[list[Camera], Field(min_length=1)] = [Camera()]
    light: Light = Light()
    environment: Environment = Environment()
    area_lights: Annotated[list[AreaLight], Field(max_length=8)] = []
    events: list[Event] = []
    constraints: list[Constraint] = []
    randomize: dict[str, Distribution] = {}
    # The file the scene came from (set by the loader), so later warnings can name it.
    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """The scene's file, or ``<scene>`` for one built in Python."""
        return self._source or "<scene>"

    @model_validator(mode="after")
    def _references(self) -> "SceneSpec":
        names = [b.name for b in self.bodies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise FieldError("bodies", f"body names must be unique; repeated: {', '.join(dupes)}")
        cams = [c.name for c in self.cameras]
        if len(set(cams)) != len(cams):
            raise FieldError("cameras", "camera names must be unique")
        by_name = {b.name: b for b in self.bodies}
        for i, event in enumerate(self.events):
            if isinstance(event, SetGravityEvent):
                continue
            body = by_name.get(event.body)
            if body is None:
                raise FieldError(f"events[{i}].body", f"no body named {event.body!r}; bodies are {', '.join(names)}")
            if isinstance(event, JointTargetEvent):
                if not isinstance(body, UrdfBody):
                    raise FieldError(f"events[{i}]", f"joint_target needs a urdf body, {event.body!r} is a {body.type}")
                if event.joint not in body.movable_joints:
                    raise FieldError(f"events[{i}].joint", f"{event.body!r} has no movable joint {event.joint!r}; "
                                     f"it has {', '.join(body.movable_joints) or '(none)'}")
            if isinstance(event, SetDynamicsEvent) and body.static:
                raise FieldError(f"events[{i}]", f"set_dynamics needs a moving body, {event.body!r} is static")
            if isinstance(event, SetDynamicsEvent) and event.mass is not None and isinstance(body, UrdfBody):
                raise FieldError(f"events[{i}].mass", "a URDF body takes its masses from the URDF")
            if isinstance(event, (SpawnEvent, RemoveEvent)) and isinstance(body, (UrdfBody, PlaneBody)):
                raise FieldError(f"events[{i}]", "spawn/remove works on primitive and mesh bodies only")
            if isinstance(event, SpawnEvent) and body.active:
                raise FieldError(f"events[{i}]", f"spawned body {event.body!r} must be declared with active: false")
        for i, con in enumerate(self.constraints):
            self._check_constraint(i, con, by_name)
        return self

    def _check_constraint(self, i: int, con: Constraint, by_name: dict[str, Body]) -> None:
        names = ", ".join(by_name)
        for key in ("body", "to"):
            other = getattr(con, key)
            if other is None:
                continue
            body = by_name.get(other)
            if body is None:
                raise FieldError(f"constraints[{i}].{key}", f"no body named {other!r}; bodies are {names}")
            if not body.active:
                raise FieldError(f"constraints[{i}].{key}", f"{other!r} starts inactive; a constraint needs it from t = 0")
            if isinstance(body, PlaneBody):
                raise FieldError(f"constraints[{i}].{key}", "a plane cannot be constrained; leave 'to' unset for the world")
            if body.ccd:
                raise FieldError(f"constraints[{i}].{key}", f"{other!r} has ccd: true; PyBullet cannot constrain such a body")
        if con.to == con.body:
            raise FieldError(f"constraints[{i}].to", "a body cannot be constrained to itself")
        if by_name[con.body].static and (con.to is None or by_name[con.to].static):
            raise FieldError(f"constraints[{i}]", "a constraint needs at least one moving body")

    def body(self, name: str) -> Body:
        """Return the body called ``name``."""
        for b in self.bodies:
            if b.name == name:
                return b
        raise KeyError(f"no body named {name!r}")

    def camera(self, name: str | None = None) -> Camera:
        """Return the camera called ``name`` (the first camera when None)."""
        if name is None:
            return self.cameras[0]
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(f"no camera named {name!r}; cameras are {', '.join(c.name for c in self.cameras)}")
