"""Observation modes: what an agent sees, and how each pixel mode is produced.

``state``          the task's flat float32 vector (poses, velocities, …); *privileged*: it holds the
                   objects' true poses
``proprio``        float32 proprioception of the robot (Panda: 7 joint positions, 7 joint
                   velocities, gripper width, end-effector position and xyzw quaternion: 22 values)
``rgb``            ``uint8 (H,W,3)`` frames drawn by the learned renderer from the physics maps
``rgb_reference``  ``uint8 (H,W,3)`` frames from the reference renderer (PyBullet TinyRenderer)
``depth``          ``float32 (H,W,1)`` metres along the camera axis, 0 where nothing is hit
``segmentation``   ``int32 (H,W,1)`` index of the body seen at each pixel (scene order), −1 for none

Modes combine with ``+`` (``"rgb+depth"``, ``"proprio+rgb"``, ``"state+rgb+depth"``); a combination,
or several cameras, gives a flat ``Dict``: ``state``/``proprio`` vectors, and per camera and pixel
mode an image keyed ``"rgb"`` (one camera) or ``"<camera>_rgb"`` (several). A single mode on one
camera gives that array alone. Goal-conditioned tasks add ``achieved_goal`` and ``desired_goal``
(beside the keys of a combination, or around a single mode as ``{"observation", ...}``).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from gymnasium import spaces

from worldsim import PhysicsWorld, Renderer, render_frame
from worldsim.conditioning.arrays import stack
from worldsim.scene.view import Camera
from worldsim.teacher.gbuffer import Frame
from worldsim.teacher.maps import render_maps
from worldsim.teacher.scene_mesh import scene_mesh

VECTOR_MODES = ("state", "proprio")
PIXEL_MODES = ("rgb", "rgb_reference", "depth", "segmentation")
OBS_MODES = VECTOR_MODES + PIXEL_MODES


def parse_obs_mode(obs_mode: str) -> tuple[str, ...]:
    """The modes of ``obs_mode`` (``"rgb+depth"`` → ``("rgb", "depth")``); a ValueError names bad ones."""
    if not isinstance(obs_mode, str) or not obs_mode:
        raise ValueError(f"obs_mode must be a non-empty string like 'rgb' or 'proprio+rgb', got {obs_mode!r}")
    modes = tuple(m.strip() for m in obs_mode.split("+"))
    bad = [m for m in modes if m not in OBS_MODES]
    if bad:
        raise ValueError(f"obs_mode {obs_mode!r}: {', '.join(map(repr, bad))} not among {', '.join(OBS_MODES)}")
    if len(set(modes)) != len(modes):
        raise ValueError(f"obs_mode {obs_mode!r} names a mode twice")
    return modes


def check_obs_mode(obs_mode: str) -> str:
    """Return ``obs_mode`` or raise a ValueError listing the modes."""
    parse_obs_mode(obs_mode)
    return obs_mode


def pixel_space(obs_mode: str, size: int, n_bodies: int, far: float) -> spaces.Box:
    """The observation space of one pixel mode at ``size × size``."""
    if obs_mode in ("rgb", "rgb_reference"):
        return spaces.Box(0, 255, (size, size, 3), np.uint8)
    if obs_mode == "depth":
        return spaces.Box(0.0, far, (size, size, 1), np.float32)
    return spaces.Box(-1, max(n_bodies - 1, 0), (size, size, 1), np.int32)


@functools.lru_cache(maxsize=4)
def shared_renderer(checkpoint: str | None, device: str, steps: int, compile: bool = False) -> Renderer:
    """One learned renderer per (checkpoint, device, steps, compile) per process, shared by every env
    in it; no checkpoint means the shipped ``raster`` one."""
    return Renderer(checkpoint or "raster", device=device, steps=steps, compile=compile)


def capture(world: PhysicsWorld, modes: str | tuple[str, ...], size: int, camera: Camera | str | None) -> Frame:
    """Render what the pixel ``modes`` need from the world's current state, and nothing more.

    ``rgb`` needs the albedo pass, the geometry maps and the light visibility (the learned
    renderer's inputs); ``rgb_reference`` only the lit pass; depth and segmentation come with either.
    Without the lit pass, the maps come from :func:`worldsim.teacher.maps.render_maps` (compiled,
    with an orthographic shadow map; the same pixels as TinyRenderer's to 99.9 %), else from
    TinyRenderer, whose lit pass draws them anyway.
    """
    modes = (modes,) if isinstance(modes, str) else modes
    cam = camera if isinstance(camera, Camera) else world.spec.camera(camera)
    if "rgb_reference" not in modes:
        return render_maps([(scene_mesh(world), cam)], (size, size), visibility="rgb" in modes)[0]
    passes = "all" if "rgb" in modes else "rgb"
    return render_frame(world, cam, (size, size), passes=passes, visibility="rgb" in modes)


def pixels(frame: Frame, obs_mode: str) -> np.ndarray:
    """The observation array of a captured frame (not for ``rgb``, which the renderer draws)."""
    if obs_mode == "rgb_reference":
        return frame.rgb
    if obs_mode == "depth":
        return frame.depth[..., None].astype(np.float32)
    return frame.segmentation[..., None].astype(np.int32)


def render_learned(renderer: Renderer, inputs: list[dict[str, np.ndarray]], seeds: list[int],
                   context: list[np.ndarray | None]) -> list[np.ndarray]:
    """Draw one frame for each of several requests (envs × cameras) in **one** batched model call.

    Args:
        renderer: the learned renderer.
        inputs: per request, :func:`worldsim.conditioning.arrays.from_frames` of its current frame;
            all of one size.
        seeds: per request, the sampler seed of this frame. Noise is drawn per request from its own
            seed, so an env's frames do not depend on which other envs share the batch.
        context: per request, its previous learned frame, or None right after a reset (ignored
            when the renderer draws without feedback, :attr:`Renderer.feedback`).

    Returns:
        Per request, ``uint8 (H,W,3)`` at the inputs' size.
    """
    batch = stack(inputs)
    height, width = batch["albedo"].shape[-3:-1]
    if not renderer.feedback:
        context = [None] * len(context)
    has = np.array([c is not None for c in context])
    ctx = np.stack([c if c is not None else np.zeros((height, width, 3), np.uint8) for c in context])
    noise = None if renderer.temperature == 0 else np.stack(  # temperature 0 starts from zeros
        [torch.randn((1, 3, height, width), generator=torch.Generator().manual_seed(int(s))).numpy() for s in seeds])
    frames = renderer.render_window(batch, seed=0, context=ctx if has.any() else None, has_context=has, noise=noise)
    return [f[0] for f in frames]


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize ``uint8 (H,W,3)`` to ``(size,size,3)`` (bilinear, antialiased); a no-op at the same size."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
