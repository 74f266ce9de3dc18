"""Screen-space reflections: which pixel of the frame each pixel's mirrored view ray meets first.

The condition maps tell a glossy pixel what the sun and the sky give it
(:mod:`worldsim.conditioning.reflection`), not what other bodies it mirrors; and the network sees
a 256² frame through 64-pixel windows, so a body reflected from further away is out of its reach.
Marching the mirrored ray through the frame's own maps (as real-time renderers march the depth
buffer) finds the pixel whose surface it passes behind, from arrays every shard already holds. Rays that leave the frame, or
meet only the sky, find nothing: what lies off screen is left to the sky estimates.

``benchmarks/reflection_hotspots.py`` measures how much of the renderer's error sits on the pixels
this finds. The renderer reads it through :func:`mirror_radiance`: the light the met pixel sends
back as a matte surface under the scene's sun, sky and area lights (what the maps can tell of it
before the frame is drawn), 3 linear RGB channels, −1 where the ray met nothing. Only the rays of
pixels smoother than ``ROUGHNESS_LIMIT`` are marched, on a grid of every ``march_stride``-th pixel
(each pixel of a grid cell takes its marched pixel's answer; a rough or empty pixel has none), so the cost stays that of a 128²
frame whatever the resolution.
"""

from __future__ import annotations

import numpy as np
import torch

STEPS = 32  # points along the ray, spaced geometrically from NEAR to FAR
NEAR, FAR = 0.02, 4.0  # metres: past the depth map's float16 noise, and across the largest scenes
GAP = 0.01  # metres a point must lie behind a pixel's surface to count as passing behind it
THICKNESS = 0.05  # metres, plus the step's length: how far behind a surface a point may be and still meet it
REFINE = 5  # halvings of the step in which a ray met a surface: the point is placed within 1/32 of it
ROUGHNESS_LIMIT = 0.5  # rougher surfaces blur what they mirror past recognition: their rays are not marched
MARCH_SIZE = 128  # pixels across: frames larger than this are marched on a grid of every k-th pixel
MIRROR_KEYS = ("albedo", "normals", "world_position", "segmentation", "light_visibility", "pbr", "area_light",
               "extrinsics", "intrinsics", "light", "environment")  # what mirror_radiance reads


def mirrored_rays(position: torch.Tensor, normals: torch.Tensor, extrinsics: torch.Tensor) -> torch.Tensor:
    """Unit directions ``(T, H, W, 3)`` of the view rays mirrored about ``normals``, in world space.

    Args:
        position: world positions ``(T, H, W, 3)``.
        normals: unit world normals ``(T, H, W, 3)``.
        extrinsics: world-to-camera ``(T, 4, 4)`` (OpenCV: x right, y down, z forward).
    """
    return _reflected(position, normals, _camera_centres(extrinsics)[:, None, None])


def _camera_centres(extrinsics: torch.Tensor) -> torch.Tensor:
    """Each frame's camera position ``(T, 3)`` in the world, -R^T t."""
    return -torch.einsum("tji,tj->ti", extrinsics[:, :3, :3], extrinsics[:, :3, 3])


def _reflected(position: torch.Tensor, normals: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """The view ray from ``camera`` (broadcast against ``position``) mirrored about ``normals``, unit length."""
    view = camera - position
    view = view / view.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return 2 * (normals * view).sum(-1, keepdim=True) * normals - view


def _probe(maps, origins, rays, travelled, rot, trans, intrinsics, frame):
    """The pixel each ray's point ``travelled`` metres out from its origin falls on, whether that is on
    screen and on a body, and how far behind that pixel's surface the point lies (along the surface's
    normal: the pixel is taken as the plane through its position, so a ray leaving a surface at a
    grazing angle does not meet the pixel it started from). Origins, rays, ``travelled``, the
    rotations and translations (each ray's frame's) and ``frame`` are ``(N, ...)``; ``maps`` is
    ``(T, H, W, 7)``: position, normal and whether a body is there."""
    point = origins + rays * travelled[..., None]
    cam = torch.einsum("nij,nj->ni", rot, point) + trans
    z = cam[..., 2]
    _, height, width, _ = maps.shape
    u = torch.floor(intrinsics[0, 0] * cam[..., 0] / z.clamp_min(1e-4) + intrinsics[0, 2]).long()
    v = torch.floor(intrinsics[1, 1] * cam[..., 1] / z.clamp_min(1e-4) + intrinsics[1, 2]).long()
    inside = (z > 1e-3) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    u, v = u.clamp(0, width - 1), v.clamp(0, height - 1)
    there = maps.reshape(-1, 7).index_select(0, (frame * height + v) * width + u)  # one gather, not three
    inside &= there[:, 6] > 0
    behind = ((there[:, :3] - point) * there[:, 3:6]).sum(-1)
    return inside, v, u, behind


def screen_reflection(position: torch.Tensor, normals: torch.Tensor, segmentation: torch.Tensor,
                      extrinsics: torch.Tensor, intrinsics: torch.Tensor,
                      marched: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every pixel, the first pixel whose surface its mirrored view ray passes behind.

    Each pixel's surface is taken as the plane through its position, across its normal. The ray is
    marched in ``STEPS`` geometric steps; a point that has passed behind a surface by
    less than the step it took (plus ``THICKNESS``) has met it, and ``REFINE`` halvings of that step
    place the meeting point. Only the rays of body pixels (and of those ``marched`` names) are
    marched: the cost grows with their count.

    Args:
        position: world positions ``(T, H, W, 3)``.
        normals: unit world normals ``(T, H, W, 3)``.
        segmentation: body ids ``(T, H, W)``, negative where nothing was hit.
        extrinsics: world-to-camera ``(T, 4, 4)``.
        intrinsics: ``(3, 3)``, pixel centres at +0.5.
        marched: ``(T, H, W) bool``, the pixels whose rays are marched (default: every body pixel).

    Returns:
        ``hit (T, H, W) bool`` (False on empty or unmarched pixels and where the ray meets nothing
        on screen), and the row and column ``(T, H, W) long`` of the pixel met (0 where ``hit`` is False).
    """
    rot, trans = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
    chosen = segmentation >= 0 if marched is None else marched & (segmentation >= 0)
    frame, row0, col0 = chosen.nonzero(as_tuple=True)
    origins = position[frame, row0, col0]
    rays = _reflected(origins, normals[frame, row0, col0], _camera_centres(extrinsics)[frame])  # marched rays only
    maps = torch.cat([position, normals, (segmentation >= 0)[..., None].to(position.dtype)], dim=-1)
    args = (rot[frame], trans[frame], intrinsics, frame)
    count = len(frame)
    hit = torch.zeros(count, dtype=torch.bool)
    lo, hi = torch.zeros(count), torch.zeros(count)
    previous = 0.0
    for travelled in (NEAR * (FAR / NEAR) ** (torch.arange(STEPS) / (STEPS - 1))).tolist():
        inside, _, _, behind = _probe(maps, origins, rays, torch.full_like(lo, travelled), *args)
        new = inside & ~hit & (behind > GAP) & (behind < THICKNESS + travelled - previous)
        lo, hi = torch.where(new, previous, lo), torch.where(new, travelled, hi)
        hit |= new
        previous = travelled
    for _ in range(REFINE):
        mid = (lo + hi) / 2
        inside, _, _, behind = _probe(maps, origins, rays, mid, *args)
        passed = inside & (behind > GAP)
        lo, hi = torch.where(passed, lo, mid), torch.where(passed, mid, hi)
    _, row, col, _ = _probe(maps, origins, rays, hi, *args)
    out_hit = torch.zeros(segmentation.shape, dtype=torch.bool)
    out_row = torch.zeros(segmentation.shape, dtype=torch.long)
    out_col = torch.zeros(segmentation.shape, dtype=torch.long)
    out_hit[frame, row0, col0] = hit
    out_row[frame, row0, col0] = torch.where(hit, row, 0)
    out_col[frame, row0, col0] = torch.where(hit, col, 0)
    return out_hit, out_row, out_col


def march_stride(height: int, width: int) -> int:
    """Every how many pixels (each way) a ray is marched in frames of ``height x width``: 1 up to
    ``MARCH_SIZE`` pixels across, 2 at 256², 4 at 512²."""
    return max(1, min(height, width) // MARCH_SIZE)


def matte_radiance(surface: dict[str, torch.Tensor], light: torch.Tensor, environment: torch.Tensor) -> torch.Tensor:
    """The light surfaces would send back as matte (Lambertian) ones of their albedo, ``(..., 3)``
    linear: the sun (strength × colour × n·l × visibility / π), the area lights' unshadowed
    irradiance / π, and the sky's mean radiance over the normal's hemisphere (as
    :func:`worldsim.conditioning.tensors.environment_maps`).

    Args:
        surface: ``albedo (..., 3)`` sRGB codes, ``normals (..., 3)``, ``light_visibility (...)``
            and ``area_light (..., 3)``, float, for any set of pixels.
        light: the clip's ``(10,)`` light vector; environment: its ``(9,)`` environment vector.
    """
    from worldsim.conditioning.reflection import hemisphere_radiance
    from worldsim.conditioning.tensors import srgb_decode  # that module builds on this one

    normals = surface["normals"]
    albedo = srgb_decode(surface["albedo"] / 255.0)
    sun_colour = srgb_decode(light[3:6]) * environment[0] * 5  # environment[0] is the sun's strength / 5
    facing = (normals * light[:3]).sum(-1).clamp_min(0) * surface["light_visibility"]
    sky = hemisphere_radiance(environment[None], normals[None])[0]
    return albedo * (facing[..., None] * sun_colour / torch.pi + surface["area_light"] / torch.pi + sky)


def mirror_radiance(clip: dict[str, np.ndarray | torch.Tensor]) -> torch.Tensor:
    """What each pixel's mirrored view ray meets on screen, as the light that pixel sends back
    (:func:`matte_radiance`), ``(T, H, W, 3)`` float32 linear; −1 where no ray was marched or it
    met nothing (see the module docstring).

    Args:
        clip: one clip's whole-frame condition arrays (:mod:`worldsim.conditioning.arrays`), at
            least ``MIRROR_KEYS``: a crop would lose every ray that leaves it.
    """
    from worldsim.conditioning.tensors import as_tensor  # that module builds on this one

    c = {key: as_tensor(clip[key], torch.long if key == "segmentation" else torch.float32) for key in MIRROR_KEYS}
    _, height, width = c["segmentation"].shape
    stride = march_stride(height, width)
    rows = (torch.arange(height) // stride * stride + stride // 2).clamp(max=height - 1)  # each pixel's marched pixel
    cols = (torch.arange(width) // stride * stride + stride // 2).clamp(max=width - 1)
    grid = torch.zeros(height, width, dtype=torch.bool)
    grid[rows[:, None], cols[None, :]] = True
    smooth = (c["pbr"][..., 0] < ROUGHNESS_LIMIT * 255) & (c["segmentation"] >= 0)
    hit, row, col = screen_reflection(c["world_position"], c["normals"], c["segmentation"], c["extrinsics"],
                                      c["intrinsics"], grid & smooth)
    frame, row0, col0 = hit.nonzero(as_tuple=True)
    met = (frame, row[frame, row0, col0], col[frame, row0, col0])  # only the pixels met are shaded
    surface = {key: c[key][met] for key in ("albedo", "normals", "light_visibility", "area_light")}
    mirrored = torch.full((*hit.shape, 3), -1.0)
    mirrored[frame, row0, col0] = matte_radiance(surface, c["light"], c["environment"])
    return torch.where(smooth[..., None], mirrored[:, rows[:, None], cols[None, :]], -1.0)


def mirror_maps(batch: dict[str, np.ndarray | torch.Tensor]) -> torch.Tensor:
    """:func:`mirror_radiance` of every clip of a batch (a leading batch axis): ``(B, T, H, W, 3)``."""
    return torch.stack([mirror_radiance({key: batch[key][b] for key in MIRROR_KEYS})
                        for b in range(len(batch["segmentation"]))])
