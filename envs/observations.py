"""Observation modes: what an agent sees, and how each pixel mode is produced.

``state``          a flat float32 vector (the task defines it: poses, velocities, …)
``rgb``            ``uint8 (H,W,3)`` frames drawn by the learned renderer from the physics maps
``rgb_reference``  ``uint8 (H,W,3)`` frames from the reference renderer (PyBullet TinyRenderer)
``depth``          ``float32 (H,W,1)`` metres along the camera axis, 0 where nothing is hit
``segmentation``   ``int32 (H,W,1)`` index of the body seen at each pixel (scene order), −1 for none

Goal-conditioned tasks wrap any of these in ``{"observation", "achieved_goal", "desired_goal"}``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from gymnasium import spaces

from worldsim import PhysicsWorld, Renderer, render_frame
from worldsim.conditioning.arrays import stack
from worldsim.teacher.gbuffer import Frame

OBS_MODES = ("state", "rgb", "rgb_reference", "depth", "segmentation")


def check_obs_mode(obs_mode: str) -> str:
    """Return ``obs_mode`` or raise a ValueError listing the modes."""
    if obs_mode not in OBS_MODES:
        raise ValueError(f"obs_mode {obs_mode!r} is not one of {', '.join(OBS_MODES)}")
    return obs_mode


def pixel_space(obs_mode: str, size: int, n_bodies: int, far: float) -> spaces.Box:
    """The observation space of one pixel mode at ``size × size``."""
    if obs_mode in ("rgb", "rgb_reference"):
        return spaces.Box(0, 255, (size, size, 3), np.uint8)
    if obs_mode == "depth":
        return spaces.Box(0.0, far, (size, size, 1), np.float32)
    return spaces.Box(-1, max(n_bodies - 1, 0), (size, size, 1), np.int32)


@functools.lru_cache(maxsize=4)
def shared_renderer(checkpoint: str | None, device: str, steps: int) -> Renderer:
    """One learned renderer per (checkpoint, device, steps) per process, shared by every env in it;
    no checkpoint means the shipped ``raster`` one."""
    return Renderer(checkpoint or "raster", device=device, steps=steps)


def capture(world: PhysicsWorld, obs_mode: str, size: int, camera: str | None) -> Frame:
    """Render what ``obs_mode`` needs from the world's current state, and nothing more.

    ``rgb`` needs the albedo pass, the geometry maps and the light visibility (the learned
    renderer's inputs); ``rgb_reference`` only the lit pass; depth and segmentation one unlit pass.
    """
    if obs_mode == "rgb":
        return render_frame(world, camera, (size, size), passes="maps", visibility=True)
    if obs_mode == "rgb_reference":
        return render_frame(world, camera, (size, size), passes="rgb", visibility=False)
    return render_frame(world, camera, (size, size), passes="maps", visibility=False)


def pixels(frame: Frame, obs_mode: str) -> np.ndarray:
    """The observation array of a captured frame (not for ``rgb``, which the renderer draws)."""
    if obs_mode == "rgb_reference":
        return frame.rgb
    if obs_mode == "depth":
        return frame.depth[..., None].astype(np.float32)
    return frame.segmentation[..., None].astype(np.int32)


def render_learned(renderer: Renderer, inputs: list[dict[str, np.ndarray]], seeds: list[int],
                   context: list[np.ndarray | None]) -> list[np.ndarray]:
    """Draw one frame for each of several envs in **one** batched model call.

    Args:
        renderer: the learned renderer.
        inputs: per env, :func:`worldsim.conditioning.arrays.from_frames` of its current frame.
        seeds: per env, the sampler seed of this frame. Noise is drawn per env from its own seed,
            so an env's frames do not depend on which other envs share the batch.
        context: per env, its previous learned frame, or None right after a reset.

    Returns:
        Per env, ``uint8 (H,W,3)`` at the renderer's resolution.
    """
    batch = stack(inputs)
    res = renderer.resolution
    has = np.array([c is not None for c in context])
    ctx = np.stack([c if c is not None else np.zeros((res, res, 3), np.uint8) for c in context])
    noise = np.stack([torch.randn((1, 3, res, res), generator=torch.Generator().manual_seed(int(s))).numpy() for s in seeds])
    frames = renderer.render_window(batch, seed=0, context=ctx if has.any() else None, has_context=has, noise=noise)
    return [f[0] for f in frames]


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize ``uint8 (H,W,3)`` to ``(size,size,3)`` (bilinear, antialiased); a no-op at the same size."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
