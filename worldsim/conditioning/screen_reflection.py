"""Screen-space reflections: which pixel of the frame each pixel's mirrored view ray meets first.

The condition maps tell a glossy pixel what the sun and the sky give it
(:mod:`worldsim.conditioning.reflection`), not what other bodies it mirrors; and the network sees
a 256² frame through 64-pixel windows, so a body reflected from further away is out of its reach.
Marching the mirrored ray through the frame's own maps (as real-time renderers march the depth
buffer) finds the pixel whose surface it passes behind, from arrays every shard already holds. Rays that leave the frame, or
meet only the sky, find nothing: what lies off screen is left to the sky estimates.

``benchmarks/reflection_hotspots.py`` measures how much of the renderer's error sits on the pixels
this finds. The renderer does not read it yet.
"""

from __future__ import annotations

import torch

STEPS = 32  # points along the ray, spaced geometrically from NEAR to FAR
NEAR, FAR = 0.02, 4.0  # metres: past the depth map's float16 noise, and across the largest scenes
GAP = 0.01  # metres a point must lie behind a pixel's surface to count as passing behind it
THICKNESS = 0.05  # metres, plus the step's length: how far behind a surface a point may be and still meet it
REFINE = 5  # halvings of the step in which a ray met a surface: the point is placed within 1/32 of it


def mirrored_rays(position: torch.Tensor, normals: torch.Tensor, extrinsics: torch.Tensor) -> torch.Tensor:
    """Unit directions ``(T, H, W, 3)`` of the view rays mirrored about ``normals``, in world space.

    Args:
        position: world positions ``(T, H, W, 3)``.
        normals: unit world normals ``(T, H, W, 3)``.
        extrinsics: world-to-camera ``(T, 4, 4)`` (OpenCV: x right, y down, z forward).
    """
    rot, trans = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
    camera = -torch.einsum("tji,tj->ti", rot, trans)  # -R^T t
    view = camera[:, None, None] - position
    view = view / view.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return 2 * (normals * view).sum(-1, keepdim=True) * normals - view


def _probe(position, normals, rays, travelled, segmentation, rot, trans, intrinsics, frame):
    """The pixel each ray's point ``travelled`` metres out falls on, whether that is on screen and on a
    body, and how far behind that pixel's surface the point lies (along the surface's normal: the
    pixel is taken as the plane through its position, so a ray leaving a surface at a grazing angle
    does not meet the pixel it started from)."""
    point = position + rays * travelled[..., None]
    cam = torch.einsum("tij,thwj->thwi", rot, point) + trans[:, None, None]
    z = cam[..., 2]
    height, width = segmentation.shape[1:]
    u = torch.floor(intrinsics[0, 0] * cam[..., 0] / z.clamp_min(1e-4) + intrinsics[0, 2]).long()
    v = torch.floor(intrinsics[1, 1] * cam[..., 1] / z.clamp_min(1e-4) + intrinsics[1, 2]).long()
    inside = (z > 1e-3) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    u, v = u.clamp(0, width - 1), v.clamp(0, height - 1)
    inside &= segmentation[frame, v, u] >= 0
    behind = ((position[frame, v, u] - point) * normals[frame, v, u]).sum(-1)
    return inside, v, u, behind


def screen_reflection(position: torch.Tensor, normals: torch.Tensor, segmentation: torch.Tensor,
                      extrinsics: torch.Tensor, intrinsics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every pixel, the first pixel whose surface its mirrored view ray passes behind.

    Each pixel's surface is taken as the plane through its position, across its normal. The ray is
    marched in ``STEPS`` geometric steps; a point that has passed behind a surface by
    less than the step it took (plus ``THICKNESS``) has met it, and ``REFINE`` halvings of that step
    place the meeting point.

    Args:
        position: world positions ``(T, H, W, 3)``.
        normals: unit world normals ``(T, H, W, 3)``.
        segmentation: body ids ``(T, H, W)``, negative where nothing was hit.
        extrinsics: world-to-camera ``(T, 4, 4)``.
        intrinsics: ``(3, 3)``, pixel centres at +0.5.

    Returns:
        ``hit (T, H, W) bool`` (False on empty pixels and where the ray meets nothing on screen),
        and the row and column ``(T, H, W) long`` of the pixel met (0 where ``hit`` is False).
    """
    frames, height, width = segmentation.shape
    rot, trans = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
    rays = mirrored_rays(position, normals, extrinsics)
    frame = torch.arange(frames)[:, None, None].expand(frames, height, width)
    args = (segmentation, rot, trans, intrinsics, frame)
    hit = torch.zeros(frames, height, width, dtype=torch.bool)
    lo, hi = torch.zeros(frames, height, width), torch.zeros(frames, height, width)
    previous = 0.0
    for travelled in (NEAR * (FAR / NEAR) ** (torch.arange(STEPS) / (STEPS - 1))).tolist():
        inside, _, _, behind = _probe(position, normals, rays, torch.full_like(lo, travelled), *args)
        new = inside & ~hit & (behind > GAP) & (behind < THICKNESS + travelled - previous)
        lo, hi = torch.where(new, previous, lo), torch.where(new, travelled, hi)
        hit |= new
        previous = travelled
    for _ in range(REFINE):
        mid = (lo + hi) / 2
        inside, _, _, behind = _probe(position, normals, rays, mid, *args)
        passed = inside & (behind > GAP)
        lo, hi = torch.where(passed, lo, mid), torch.where(passed, mid, hi)
    _, row, col, _ = _probe(position, normals, rays, hi, *args)
    hit &= segmentation >= 0
    return hit, torch.where(hit, row, 0), torch.where(hit, col, 0)
