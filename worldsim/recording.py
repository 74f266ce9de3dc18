"""Rolling a scene out frame by frame and saving what it produced (state, maps, reference video).

File formats (all arrays; ``T`` frames, ``N`` bodies, ``H x W`` pixels):

``state.npz``: ``time (T,)``, ``body_names (N,)``, ``positions (T,N,3)`` (the frame the scene
placed: a URDF's root link frame), ``centers_of_mass (T,N,3)``, ``quaternions (T,N,4)`` (xyzw),
``velocities (T,N,3)``, ``angular_velocities (T,N,3)``, ``present (T,N)``, ``masses (N,)``,
``collision_frame (K,)``, ``collision_bodies (K,2)``, ``collision_position (K,3)``,
``collision_force (K,)`` (strongest normal force of each touching pair during each frame), ``fps ()``
and ``joint_positions__<body> (T,J)`` for each articulated body.

``maps.npz``: ``rgb``/``albedo (T,H,W,3) uint8``, ``segmentation (T,H,W) int32`` (index into
``body_names``, −1 empty), ``depth (T,H,W) float32`` (metres along the camera axis, 0 empty),
``normals``/``world_position (T,H,W,3) float32`` (world frame), ``material (T,H,W) int32`` (see
``material_names``; 0 empty), ``light_visibility (T,H,W) float32`` (1 where the sun reaches the
surface, from a shadow map; 0 in shadow or empty), ``intrinsics (3,3)``, ``extrinsics (T,4,4)`` (world→camera, OpenCV).

Two map passes draw the maps (``MAP_PASSES``). ``tiny`` is TinyRenderer's, which lines up with its own
lit picture; but PyBullet draws spheres, capsules and cylinders there with coarse built-in meshes,
and Cycles draws the finer ones of :mod:`worldsim.teacher.visual_shapes`. ``raster``
(:func:`worldsim.teacher.maps.render_maps`) draws those same meshes, so its maps line up with the
Cycles picture: on the 8 held-out 256² eval scenes, 0 pixels of Cycles' own body ids differ from it,
against 0.01–1.1 % for TinyRenderer's (body IoU 0.88–0.96 on every curved primitive).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from worldsim.conditioning.arrays import frame_maps
from worldsim.materials import MATERIALS
from worldsim.physics.world import PhysicsWorld
from worldsim.scene.schema import SceneSpec
from worldsim.scene.view import Camera
from worldsim.state import PhysicsState
from worldsim.teacher.gbuffer import Frame
from worldsim.teacher.tiny import lit_picture, render_frame

MAP_PASSES = ("tiny", "raster")
TEACHERS = ("tiny", "cycles", "none")


def default_map_pass(teacher: str) -> str:
    """The map pass that lines up with ``teacher``'s pictures: ``raster`` for Cycles, else ``tiny``."""
    return "raster" if teacher == "cycles" else "tiny"


def draw_frame(world: PhysicsWorld, camera: Camera | str | None, resolution: tuple[int, int] | None,
               map_pass: str, lit: bool) -> Frame:
    """One frame of ``world`` now: the condition maps from ``map_pass`` and, when ``lit``, TinyRenderer's
    lit picture as ``rgb`` (else ``rgb`` is the albedo)."""
    if map_pass == "tiny":
        return render_frame(world, camera, resolution, passes="all" if lit else "maps")
    from worldsim.teacher.maps import render_maps
    from worldsim.teacher.scene_mesh import scene_mesh

    cam = camera if isinstance(camera, Camera) else world.spec.camera(camera)
    size = resolution or tuple(cam.resolution)
    frame = render_maps([(scene_mesh(world), cam)], size)[0]
    if lit:
        frame.rgb = lit_picture(world, cam, size)
    return frame


@dataclass
class Recording:
    """Everything a rollout produced, frame by frame."""

    spec: SceneSpec
    states: list[PhysicsState] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    masses: np.ndarray | None = None

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The ``state.npz`` arrays."""
        s = self.states
        out: dict[str, np.ndarray] = {
            "time": np.array([x.time for x in s]),
            "body_names": np.array(s[0].names),
            "positions": np.stack([x.positions for x in s]),
            "centers_of_mass": np.stack([x.centers_of_mass for x in s]),
            "quaternions": np.stack([x.quaternions for x in s]),
            "velocities": np.stack([x.velocities for x in s]),
            "angular_velocities": np.stack([x.angular_velocities for x in s]),
            "present": np.stack([x.present for x in s]),
            "masses": self.masses,
            "fps": np.array(self.spec.sim.fps),
        }
        rows = [(t, c) for t, x in enumerate(s) for c in x.contacts]
        out["collision_frame"] = np.array([t for t, _ in rows], dtype=np.int64)
        out["collision_bodies"] = np.array([[c.body_a, c.body_b] for _, c in rows], dtype=np.int64).reshape(-1, 2)
        out["collision_position"] = np.array([c.position for _, c in rows], dtype=np.float64).reshape(-1, 3)
        out["collision_force"] = np.array([c.normal_force for _, c in rows], dtype=np.float64)
        for name in s[0].joint_positions:
            out[f"joint_positions__{name}"] = np.stack([x.joint_positions[name] for x in s])
        return out

    def map_arrays(self) -> dict[str, np.ndarray]:
        """The ``maps.npz`` arrays."""
        return {**frame_maps(self.frames), "material_names": np.array(("empty",) + MATERIALS)}


def rollout(spec: SceneSpec, seed: int = 0, frames: int | None = None, camera: str | None = None,
            resolution: tuple[int, int] | None = None, render: bool = True, progress: bool = False,
            teacher: str = "tiny", cycles=None, map_pass: str | None = None) -> Recording:
    """Simulate ``spec`` for ``frames`` output frames (default: its duration), rendering each one.

    Frame 0 is the initial state (t = 0); frame k is at t = k / fps. ``teacher="cycles"`` draws each
    frame's ``rgb`` with Blender Cycles (``cycles``: :class:`~worldsim.teacher.cycles.CyclesOptions`),
    ``"tiny"`` with TinyRenderer, ``"none"`` not at all (``rgb`` is then the albedo: the maps alone).
    The condition maps come from ``map_pass`` (:data:`MAP_PASSES`; default: the one that lines up with
    the teacher, :func:`default_map_pass`).
    """
    if teacher not in TEACHERS:
        raise ValueError(f"unknown teacher {teacher!r}; expected one of {', '.join(TEACHERS)}")
    map_pass = map_pass or default_map_pass(teacher)
    if map_pass not in MAP_PASSES:
        raise ValueError(f"unknown map pass {map_pass!r}; expected one of {', '.join(MAP_PASSES)}")
    total = frames if frames is not None else spec.sim.num_frames
    rec = Recording(spec)
    with PhysicsWorld(spec, seed=seed) as world, _teacher(world, teacher, camera, resolution, cycles) as path_tracer:
        rec.masses = world.masses()
        iterator = range(total)
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc=f"simulate {spec.name}", unit="frame")
        for k in iterator:
            if k > 0:
                world.step_frames(1)
            rec.states.append(world.state())
            if render:
                frame = draw_frame(world, camera, resolution, map_pass, lit=teacher == "tiny")
                if path_tracer:
                    frame.rgb = path_tracer.render(world)
                rec.frames.append(frame)
    return rec


@contextlib.contextmanager
def _teacher(world: PhysicsWorld, teacher: str, camera, resolution, cycles):
    """The Cycles renderer for a rollout (None for TinyRenderer), closed afterwards."""
    if teacher != "cycles":
        yield None
        return
    from worldsim.teacher.cycles import CyclesOptions, CyclesTeacher

    renderer = CyclesTeacher(world, camera, resolution, cycles or CyclesOptions())
    try:
        yield renderer
    finally:
        renderer.close()


def save_recording(rec: Recording, out_dir: str | Path, video_upscale: int = 1) -> dict[str, Path]:
    """Write ``state.npz``, ``maps.npz`` and ``reference.mp4`` into ``out_dir``; returns their paths."""
    from worldsim.io import save_npz
    from worldsim.video import write_mp4

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"state": out / "state.npz", "maps": out / "maps.npz", "video": out / "reference.mp4"}
    save_npz(paths["state"], **rec.state_arrays())
    if rec.frames:
        maps = rec.map_arrays()
        save_npz(paths["maps"], **maps)
        write_mp4(paths["video"], maps["rgb"], fps=rec.spec.sim.fps, upscale=video_upscale)
    return paths
