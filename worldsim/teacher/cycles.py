"""The path-traced teacher: Blender Cycles (through the ``bpy`` module) drawing a :class:`PhysicsWorld`.

It draws the shapes PyBullet lists (:mod:`worldsim.teacher.visual_shapes`: its meshes, and finer
ones than TinyRenderer's for spheres, capsules and cylinders, with worldsim's UVs), from the same
camera intrinsics and extrinsics, so the raster map pass (:mod:`worldsim.teacher.maps`), which draws
the same triangles, lines up with the Cycles image pixel for pixel; TinyRenderer's maps do not at
curved edges and in box textures (``tests/teacher/test_cycles.py``). Only the light transport
differs from the maps: soft sun shadows, sky and area light, bounce light, glossy and metallic
reflections from each body's physically based surface.

``bpy`` is an optional extra (``pip install 'worldsim[cycles]'``, Python 3.11). Blender holds one
scene per process, so one :class:`CyclesTeacher` is live at a time; making another replaces it.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.errors import WorldsimError
from worldsim.materials import srgb_to_linear
from worldsim.physics.world import PhysicsWorld
from worldsim.scene.schema import Camera, SceneSpec
from worldsim.teacher.camera import camera_to_world_rotation
from worldsim.teacher.visual_shapes import VisualShape, shape_poses, visual_shapes

INSTALL_HINT = "pip install 'worldsim[cycles]' (Blender's bpy wheel, Python 3.11 only)"
_CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0])  # OpenCV camera axes -> Blender's (x right, y up, looking down -z)


class TeacherUnavailable(WorldsimError):
    """The requested teacher cannot run here (e.g. ``bpy`` is not installed)."""


def require_bpy():
    """Import and return ``bpy``, or raise :class:`TeacherUnavailable` saying how to install it."""
    import sys

    if "bpy" not in sys.modules:
        # Importing bpy puts Blender's script folders on sys.path, and a spawned worker inherits that
        # path; there the scripts' own pure-Python `bpy` would shadow the real module. Drop them first.
        sys.path[:] = [p for p in sys.path if not (f"{os.sep}bpy{os.sep}" in p and f"{os.sep}scripts" in p)]
    try:
        import bpy
    except ImportError as exc:
        raise TeacherUnavailable(f"the Cycles teacher needs Blender's bpy module ({exc}); install it with: "
                                 f"{INSTALL_HINT}") from None
    return bpy


def check_bpy() -> None:
    """Raise :class:`TeacherUnavailable` unless ``bpy`` is installed, without importing it: a parent
    that only spawns Cycles workers need not load Blender (nor pass its script folders to them)."""
    import importlib.util
    import sys

    if "bpy" in sys.modules:  # imported already (None marks a blocked import)
        missing = sys.modules["bpy"] is None
    else:
        missing = importlib.util.find_spec("bpy") is None
    if missing:
        raise TeacherUnavailable(f"the Cycles teacher needs Blender's bpy module, which is not installed; install it "
                                 f"with: {INSTALL_HINT}")


@dataclass(frozen=True)
class CyclesOptions:
    """Render settings. More samples cost time linearly; the denoiser (OpenImageDenoise) lets few samples look clean."""

    samples: int = 32
    denoise: bool = True
    threads: int = 0  # 0: every core
    bounces: int = 4

    def __post_init__(self):
        if self.samples < 1 or self.bounces < 0 or self.threads < 0:
            raise ValueError(f"bad Cycles options {self}: samples >= 1, bounces >= 0, threads >= 0")


def _use_nodes(datablock) -> None:
    """Give a material or world its node tree (Blender 5 warns that the switch will go away in 6)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        datablock.use_nodes = True


@contextlib.contextmanager
def _quiet():
    """Silence Blender's per-render log lines on stdout (they would bury the progress bar)."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class CyclesTeacher:
    """Renders a world's current state with Cycles.

    Args:
        world: the world whose bodies are drawn (its shapes are read once; poses every frame).
        camera: a camera spec, a camera name from the scene, or None for the first camera.
        resolution: (W, H); defaults to the camera's own.
        options: samples, denoising, threads, bounces.
    """

    def __init__(self, world: PhysicsWorld, camera: Camera | str | None = None,
                 resolution: tuple[int, int] | None = None, options: CyclesOptions = CyclesOptions()):
        self.bpy = bpy = require_bpy()
        self.options = options
        self.camera = camera if isinstance(camera, Camera) else world.spec.camera(camera)
        self.resolution = tuple(resolution or self.camera.resolution)
        self._tmp = Path(tempfile.mkdtemp(prefix="worldsim_cycles_"))
        with _quiet():
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self._settings()
        self._camera()
        self._lights(world.spec)
        self.shapes = visual_shapes(world)
        self.objects = [self._object(i, s, world.spec) for i, s in enumerate(self.shapes)]

    # --- scene setup -----------------------------------------------------------------------
    def _settings(self) -> None:
        sc, opt = self.scene, self.options
        sc.render.engine = "CYCLES"
        sc.cycles.device = "CPU"
        sc.cycles.samples = opt.samples
        sc.cycles.use_adaptive_sampling = False  # the same work every frame: deterministic and predictable
        sc.cycles.seed = 0
        sc.cycles.max_bounces = opt.bounces
        sc.cycles.use_denoising = opt.denoise
        if opt.denoise:
            sc.cycles.denoiser = "OPENIMAGEDENOISE"
        sc.render.threads_mode = "FIXED" if opt.threads else "AUTO"
        if opt.threads:
            sc.render.threads = opt.threads
        sc.render.resolution_x, sc.render.resolution_y = self.resolution
        sc.render.resolution_percentage = 100
        sc.render.image_settings.file_format = "PNG"
        sc.render.image_settings.color_mode = "RGB"
        sc.render.image_settings.color_depth = "8"
        sc.render.dither_intensity = 0.0
        sc.view_settings.view_transform = "Standard"  # sRGB out, like the reference; no filmic curve
        sc.view_settings.look = "None"
        sc.render.film_transparent = False
        # Keep the synced scene and BVH between frames; only transforms change. ~4x faster per frame at 64².
        sc.render.use_persistent_data = True

    def _camera(self) -> None:
        from mathutils import Matrix

        bpy, cam = self.bpy, self.camera
        data = bpy.data.cameras.new("camera")
        data.sensor_fit = "VERTICAL"
        data.sensor_height = 24.0
        data.lens = 12.0 / math.tan(math.radians(cam.fov_deg) / 2)  # vertical fov over a 24 mm sensor
        data.clip_start, data.clip_end = cam.near, cam.far
        obj = bpy.data.objects.new("camera", data)
        self.scene.collection.objects.link(obj)
        world_from_cam = np.eye(4)
        world_from_cam[:3, :3] = camera_to_world_rotation(cam) @ _CV_TO_BLENDER
        world_from_cam[:3, 3] = cam.position
        obj.matrix_world = Matrix(world_from_cam.tolist())
        # TinyRenderer samples each pixel at its corner (j, i), not its centre: shifting the lens by
        # half a pixel makes Cycles' silhouettes match the reference segmentation exactly. With a
        # vertical sensor fit, Blender measures shifts in image heights.
        data.shift_x = data.shift_y = -0.5 / self.resolution[1]
        self.scene.camera = obj

    def _aim(self, obj, position, direction) -> None:
        """Point a light's -z along ``direction`` from ``position``."""
        from mathutils import Vector

        obj.location = Vector(position)
        obj.rotation_mode = "QUATERNION"
        obj.rotation_quaternion = Vector(direction).to_track_quat("-Z", "Y")

    def _lights(self, spec: SceneSpec) -> None:
        bpy, light = self.bpy, spec.light
        sun = bpy.data.lights.new("sun", "SUN")
        sun.energy = light.strength
        sun.color = srgb_to_linear(light.color[:3]).tolist()
        sun.angle = math.radians(light.angle_deg)
        sun.use_shadow = light.shadows
        obj = bpy.data.objects.new("sun", sun)
        self.scene.collection.objects.link(obj)
        self._aim(obj, [0, 0, 10], -np.asarray(light.direction, dtype=float))
        for i, area in enumerate(spec.area_lights):
            data = bpy.data.lights.new(f"area{i}", "AREA")
            data.size, data.energy = area.size, area.power
            data.color = srgb_to_linear(area.color[:3]).tolist()
            obj = bpy.data.objects.new(f"area{i}", data)
            self.scene.collection.objects.link(obj)
            self._aim(obj, area.position, np.subtract(area.target, area.position))
        self._environment(spec)

    def _environment(self, spec: SceneSpec) -> None:
        env = spec.environment
        world = self.bpy.data.worlds.new("environment")
        _use_nodes(world)
        nodes, links = world.node_tree.nodes, world.node_tree.links
        background = nodes["Background"]
        background.inputs["Strength"].default_value = env.strength
        horizon = list(srgb_to_linear(env.color[:3])) + [1.0]
        if env.kind == "uniform":
            background.inputs["Color"].default_value = horizon
        else:  # blend from the horizon colour to the zenith colour with the direction's height
            coords = nodes.new("ShaderNodeTexCoord")
            split = nodes.new("ShaderNodeSeparateXYZ")
            ramp = nodes.new("ShaderNodeValToRGB")
            ramp.color_ramp.elements[0].color = horizon
            ramp.color_ramp.elements[1].color = list(srgb_to_linear(env.zenith_color[:3])) + [1.0]
            links.new(coords.outputs["Generated"], split.inputs["Vector"])
            links.new(split.outputs["Z"], ramp.inputs["Fac"])
            links.new(ramp.outputs["Color"], background.inputs["Color"])
        self.scene.world = world

    def _material(self, name: str, shape: VisualShape, spec: SceneSpec):
        bpy = self.bpy
        mat = bpy.data.materials.new(name)
        _use_nodes(mat)
        bsdf = mat.node_tree.nodes["Principled BSDF"]
        roughness, metallic, specular = spec.bodies[shape.body].pbr
        bsdf.inputs["Roughness"].default_value = roughness
        bsdf.inputs["Metallic"].default_value = metallic
        bsdf.inputs["Specular IOR Level"].default_value = specular
        color = list(srgb_to_linear(shape.rgba[:3])) + [1.0]
        if shape.texture is None:
            bsdf.inputs["Base Color"].default_value = color
            return mat
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = bpy.data.images.load(shape.texture, check_existing=True)
        tex.interpolation = "Closest"  # TinyRenderer samples textures without filtering
        if shape.uv is None:
            coords = nodes.new("ShaderNodeTexCoord")  # no UVs: project along the object's axes
            tex.projection = "BOX"
            links.new(coords.outputs["Generated"], tex.inputs["Vector"])
        tint = nodes.new("ShaderNodeMix")
        tint.data_type, tint.blend_type = "RGBA", "MULTIPLY"
        tint.inputs["Factor"].default_value = 1.0
        links.new(tex.outputs["Color"], tint.inputs["A"])
        tint.inputs["B"].default_value = color
        links.new(tint.outputs["Result"], bsdf.inputs["Base Color"])
        return mat

    def _object(self, i: int, shape: VisualShape, spec: SceneSpec):
        bpy, mesh = self.bpy, shape.mesh
        data = bpy.data.meshes.new(f"shape{i}")
        verts = np.asarray(mesh.vertices, dtype=np.float32)
        faces = np.asarray(mesh.faces, dtype=np.int32)
        data.vertices.add(len(verts))
        data.vertices.foreach_set("co", verts.ravel())
        data.loops.add(faces.size)
        data.loops.foreach_set("vertex_index", faces.ravel())
        data.polygons.add(len(faces))
        data.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
        if shape.uv is not None:
            layer = data.uv_layers.new(name="uv")
            layer.data.foreach_set("uv", shape.uv[faces].ravel())
        data.update()
        data.polygons.foreach_set("use_smooth", np.full(len(faces), shape.smooth))
        if shape.smooth:
            normals = np.asarray(mesh.vertex_normals, dtype=np.float32)
            # a vertex of only degenerate faces has no normal, and Blender crashes on a zero custom normal
            normals[np.linalg.norm(normals, axis=1) < 1e-6] = (0.0, 0.0, 1.0)
            data.normals_split_custom_set_from_vertices(normals.tolist())
        data.materials.append(self._material(f"material{i}", shape, spec))
        obj = bpy.data.objects.new(f"shape{i}", data)
        self.scene.collection.objects.link(obj)
        return obj

    # --- rendering -------------------------------------------------------------------------
    def _pose(self, world: PhysicsWorld) -> None:
        from mathutils import Matrix

        for obj, pose in zip(self.objects, shape_poses(world, self.shapes), strict=False):
            obj.matrix_world = Matrix(pose.tolist())

    def _render(self, name: str) -> np.ndarray:
        import imageio.v3 as iio

        path = self._tmp / f"{name}.png"
        self.scene.render.filepath = str(path)
        with _quiet():
            self.bpy.ops.render.render(write_still=True)
        return np.asarray(iio.imread(path))[..., :3]

    def render(self, world: PhysicsWorld) -> np.ndarray:
        """The path-traced image of the world's current state, ``uint8 (H, W, 3)``."""
        self._pose(world)
        return self._render("frame")

    def render_ids(self, world: PhysicsWorld) -> np.ndarray:
        """Which body covers each pixel centre, ``int32 (H, W)`` (−1 empty), from Cycles' own geometry.

        Every shape is drawn as a flat emitter of a colour coding its body index, with one sample at
        the pixel centre, so this is the Cycles image's silhouettes in the reference's id format.
        """
        sc = self.scene
        saved = (sc.cycles.samples, sc.cycles.use_denoising, sc.cycles.filter_width, sc.view_settings.view_transform,
                 sc.world, [list(o.data.materials) for o in self.objects])
        sc.cycles.samples, sc.cycles.use_denoising, sc.cycles.filter_width = 1, False, 0.01
        sc.view_settings.view_transform = "Raw"
        sc.world = None
        for obj, shape in zip(self.objects, self.shapes, strict=False):
            obj.data.materials.clear()
            obj.data.materials.append(self._id_material(shape.body))
        try:
            self._pose(world)
            img = self._render("ids").astype(np.int32)
        finally:
            sc.cycles.samples, sc.cycles.use_denoising, sc.cycles.filter_width, sc.view_settings.view_transform = saved[:4]
            sc.world = saved[4]
            for obj, mats in zip(self.objects, saved[5], strict=False):
                obj.data.materials.clear()
                for m in mats:
                    obj.data.materials.append(m)
        code = img[..., 0] + 256 * img[..., 1]  # body index + 1 in the red and green bytes
        return (code - 1).astype(np.int32)

    def _id_material(self, body: int):
        name = f"id{body}"
        mat = self.bpy.data.materials.get(name)
        if mat is None:
            mat = self.bpy.data.materials.new(name)
            _use_nodes(mat)
            nodes = mat.node_tree.nodes
            nodes.remove(nodes["Principled BSDF"])
            emit = nodes.new("ShaderNodeEmission")
            code = body + 1
            emit.inputs["Color"].default_value = [(code % 256) / 255, (code // 256) / 255, 0.0, 1.0]
            mat.node_tree.links.new(emit.outputs["Emission"], nodes["Material Output"].inputs["Surface"])
        return mat

    def close(self) -> None:
        """Free Blender's scene and the temporary files."""
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)
        with _quiet():
            self.bpy.ops.wm.read_factory_settings(use_empty=True)

    def __enter__(self) -> "CyclesTeacher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
