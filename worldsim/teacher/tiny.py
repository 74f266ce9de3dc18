"""The reference renderer: PyBullet's TinyRenderer drawing a :class:`PhysicsWorld` from a camera.

Two passes per frame: the lit RGB (light, shadows) and the unlit albedo (ambient 1, diffuse 0,
specular 0, no shadows). TinyRenderer keeps the light coefficients of the previous call, so every
call passes all of them explicitly; otherwise the "lit" image silently comes out unlit.
"""

from __future__ import annotations

import numpy as np
import pybullet as pb

from worldsim.physics.world import PhysicsWorld
from worldsim.scene.view import Camera, Light
from worldsim.teacher.camera import extrinsics, gl_projection, gl_view, intrinsics, linear_depth
from worldsim.teacher.gbuffer import Frame, derive_maps
from worldsim.teacher.shadows import light_visibility, world_planes


def _light_args(light: Light, lit: bool) -> dict:
    return {
        "lightDirection": list(light.direction),
        "lightColor": list(light.color[:3]),
        "lightDistance": light.distance,
        "shadow": int(light.shadows and lit),
        "lightAmbientCoeff": light.ambient if lit else 1.0,
        "lightDiffuseCoeff": light.diffuse if lit else 0.0,
        "lightSpecularCoeff": light.specular if lit else 0.0,
    }


def _draw(world: PhysicsWorld, view, proj, size: tuple[int, int], lit: bool):
    """One TinyRenderer pass through the GL ``view`` and ``proj`` matrices: ``rgb (H,W,3) uint8``, the
    z-buffer and PyBullet's segmentation."""
    width, height = size
    _, _, rgba, zbuf, seg = pb.getCameraImage(
        width, height, view, proj, renderer=pb.ER_TINY_RENDERER,
        physicsClientId=world.client, **_light_args(world.spec.light, lit))
    rgba = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)
    return rgba[..., :3].copy(), np.asarray(zbuf, np.float32).reshape(height, width), np.asarray(seg).reshape(height, width)


def lit_picture(world: PhysicsWorld, camera: Camera | str | None = None,
                resolution: tuple[int, int] | None = None) -> np.ndarray:
    """TinyRenderer's lit picture alone, ``uint8 (H,W,3)``: no albedo pass and no condition maps.

    For callers that take their maps from elsewhere (the raster map pass) or want none (a viewer).
    """
    cam = camera if isinstance(camera, Camera) else world.spec.camera(camera)
    size = resolution or tuple(cam.resolution)
    return _draw(world, gl_view(extrinsics(cam)), gl_projection(cam, size), size, lit=True)[0]


def render_frame(world: PhysicsWorld, camera: Camera | str | None = None,
                 resolution: tuple[int, int] | None = None, passes: str = "all", visibility: bool = True) -> Frame:
    """Render the world's current state.

    Args:
        world: the world to draw.
        camera: a camera spec, a camera name from the scene, or None for the scene's first camera.
        resolution: (W, H); defaults to the camera's own.
        passes: ``"all"`` (lit RGB + albedo), ``"rgb"`` (skip the albedo pass) or ``"maps"``
            (albedo only, no lit RGB; ``rgb`` then equals the albedo).
        visibility: compute the light visibility from a shadow map (the learned renderer needs it;
            depth and segmentation observations do not, and skip the cost). False leaves it at zeros.

    Returns:
        A :class:`Frame` with RGB, albedo and every condition map.
    """
    cam = camera if isinstance(camera, Camera) else world.spec.camera(camera)
    size = resolution or tuple(cam.resolution)
    intr, extr = intrinsics(cam, size), extrinsics(cam)
    view, proj = gl_view(extr), gl_projection(cam, size)
    albedo = rgb = zbuf = seg = None
    if passes in ("all", "rgb"):
        rgb, zbuf, seg = _draw(world, view, proj, size, lit=True)
    if passes in ("all", "maps"):
        albedo, zbuf, seg = _draw(world, view, proj, size, lit=False)
    if rgb is None:
        rgb = albedo
    if albedo is None:
        albedo = rgb

    lut = world.uid_to_index
    seg = np.where(seg >= 0, lut[np.clip(seg, 0, len(lut) - 1)], -1).astype(np.int32)
    depth, pos, normals, material = derive_maps(linear_depth(zbuf, cam.near, cam.far), seg, world.material_ids, intr, extr)
    lit = np.zeros(seg.shape, np.float32)
    if visibility:
        lit = light_visibility(world.client, world.spec.light.direction, pos, normals, seg, planes=world_planes(world))
    return Frame(rgb, albedo, seg, depth, normals, pos, material, intr, extr, lit)
