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

from pydantic import Field, ValidationInfo, field_validator, model_validator

from worldsim.materials import MATERIALS, PBR_DEFAULTS
from worldsim.scene.assets import resolve_asset
from worldsim.scene.events import (  # noqa: F401  (re-exported: the whole format is importable from here)
    Event,
    EventBase,
    ForceEvent,
    ImpulseEvent,
    JointTargetEvent,
    RemoveEvent,
    SetVelocityEvent,
    SpawnEvent,
)
from worldsim.scene.types import (
    Bool,
    Color,
    Float,
    Name,
    NonNegFloat,
    PositiveFloat,
    PositiveInt,
    PositiveVec2,
    PositiveVec3,
    Quaternion,
    Strict_,
    UnitFloat,
    Vec3,
)
from worldsim.scene.view import AreaLight, Camera, Environment, Light  # noqa: F401  (re-exported)

MAX_STEPS_PER_FRAME = 10_000


class FieldError(ValueError):
    """A cross-field rule broken at ``field`` (a path like ``events[2].body``), relative to the
    model whose validator raises it; the loader puts the path into :class:`SceneError`."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class SimSettings(Strict_):
    """Simulation settings. One output frame spans ``1 / (fps * timestep)`` physics steps."""

    gravity: Vec3 = [0.0, 0.0, -9.81]
    timestep: PositiveFloat = 1.0 / 240.0
    substeps: PositiveInt = 1
    solver_iterations: PositiveInt = 50
    fps: PositiveFloat = 24.0
    duration: PositiveFloat = 2.0

    @model_validator(mode="after")
    def _frame_is_whole_steps(self) -> "SimSettings":
        product = self.fps * self.timestep
        ratio = 1.0 / product if product > 0 else math.inf  # denormal inputs underflow to 0
        if not math.isfinite(ratio) or ratio > MAX_STEPS_PER_FRAME:
            raise ValueError(f"1 / (fps * timestep) = {ratio:.4g} physics steps per frame; at most {MAX_STEPS_PER_FRAME} "
                             f"are supported (fps={self.fps}, timestep={self.timestep})")
        if ratio < 1 - 1e-6 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"1 / (fps * timestep) must be a whole number of physics steps per frame, "
                f"got {ratio:.4f} (fps={self.fps}, timestep={self.timestep})"
            )
        return self

    @property
    def steps_per_frame(self) -> int:
        """Physics steps per output frame."""
        return int(round(1.0 / (self.fps * self.timestep)))

    @property
    def num_frames(self) -> int:
        """Output frames in ``duration`` seconds (the first frame is at t = 0)."""
        return int(math.floor(self.duration * self.fps + 1e-9)) + 1


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


class BodyBase(Strict_):
    """Fields every body has: identity, pose, appearance, contact properties and initial motion."""

    name: Name
    position: Vec3 = [0.0, 0.0, 0.0]
    orientation: Quaternion | None = None
    euler_deg: Vec3 | None = None
    static: Bool = False
    mass: PositiveFloat | None = None
    density: PositiveFloat | None = None
    friction: NonNegFloat = 0.5
    rolling_friction: NonNegFloat = 0.0
    spinning_friction: NonNegFloat = 0.0
    restitution: UnitFloat = 0.0
    linear_damping: NonNegFloat = 0.04
    angular_damping: NonNegFloat = 0.04
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
        from worldsim.physics.meshes import check_mesh_file  # trimesh only when a mesh is used

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


def _check_urdf_xml(path: str) -> None:
    """Refuse a URDF that is not well-formed XML with a <robot> root (PyBullet only says "cannot load")."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path} is not valid URDF XML: {exc}") from None
    if root.tag != "robot":
        raise ValueError(f"{path} is not a URDF: its root element is <{root.tag}>, not <robot>")


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
        _check_urdf_xml(path)
        return path

    @model_validator(mode="after")
    def _no_mass(self) -> "UrdfBody":
        if self.mass is not None or self.density is not None:
            raise ValueError("a URDF body takes its masses from the URDF; remove mass/density")
        return self


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
    bodies: Annotated[list[Body], Field(min_length=1)]
    cameras: Annotated[list[Camera], Field(min_length=1)] = [Camera()]
    light: Light = Light()
    environment: Environment = Environment()
    area_lights: Annotated[list[AreaLight], Field(max_length=8)] = []
    events: list[Event] = []
    randomize: dict[str, Distribution] = {}

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
            body = by_name.get(event.body)
            if body is None:
                raise FieldError(f"events[{i}].body", f"no body named {event.body!r}; bodies are {', '.join(names)}")
            if isinstance(event, JointTargetEvent) and not isinstance(body, UrdfBody):
                raise FieldError(f"events[{i}]", f"joint_target needs a urdf body, {event.body!r} is a {body.type}")
            if isinstance(event, (SpawnEvent, RemoveEvent)) and isinstance(body, (UrdfBody, PlaneBody)):
                raise FieldError(f"events[{i}]", "spawn/remove works on primitive and mesh bodies only")
            if isinstance(event, SpawnEvent) and body.active:
                raise FieldError(f"events[{i}]", f"spawned body {event.body!r} must be declared with active: false")
        return self

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
