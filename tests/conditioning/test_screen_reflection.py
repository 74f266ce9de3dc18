"""Screen-space reflections against geometry worked out by hand: a mirror floor before a wall."""

from __future__ import annotations

import numpy as np
import torch

from worldsim.conditioning.screen_reflection import mirrored_rays, screen_reflection

SIZE, FOCAL, WALL = 64, 32.0, 3.0  # pixels, pixels, metres ahead of the camera


def _floor_and_wall():
    """A camera at the origin looking along +z (OpenCV, y down) over a floor 1 m below it (y = 1),
    facing a wall at z = WALL: the maps a rasterizer would draw, and each pixel's view direction."""
    centres = torch.arange(SIZE) + 0.5
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    d = torch.stack([(u - SIZE / 2) / FOCAL, (v - SIZE / 2) / FOCAL, torch.ones_like(u)], -1)
    on_floor = (d[..., 1] > 0) & (1 / d[..., 1].clamp_min(1e-6) < WALL)
    depth = torch.where(on_floor, 1 / d[..., 1].clamp_min(1e-6), torch.full_like(u, WALL))
    normals = torch.where(on_floor[..., None], torch.tensor([0.0, -1.0, 0.0]), torch.tensor([0.0, 0.0, -1.0]))
    seg = torch.where(on_floor, 0, 1)
    intr = torch.tensor([[FOCAL, 0, SIZE / 2], [0, FOCAL, SIZE / 2], [0, 0, 1.0]])
    return (d * depth[..., None])[None], normals[None], depth[None], seg[None], torch.eye(4)[None], intr, on_floor, d


def test_a_floor_mirrors_the_wall_pixel_the_mirrored_ray_reaches():
    position, normals, depth, seg, extr, intr, on_floor, d = _floor_and_wall()
    hit, row, col = screen_reflection(position, normals, seg, extr, intr)
    # by hand: the ray (dx, dy, 1) mirrored by the floor is (dx, -dy, 1); from the floor point at
    # z0 = 1 / dy it reaches the wall after WALL - z0 along z, at height 1 - dy (WALL - z0)
    z0 = 1 / d[..., 1].clamp_min(1e-6)
    wall = d * z0[..., None] + (WALL - z0)[..., None] * torch.stack([d[..., 0], -d[..., 1], d[..., 2]], -1)
    want_col = torch.floor(FOCAL * wall[..., 0] / WALL + SIZE / 2)
    want_row = torch.floor(FOCAL * wall[..., 1] / WALL + SIZE / 2)
    reach = on_floor & (want_col >= 0) & (want_col < SIZE) & (z0 > 1.2)  # on screen, within FAR
    assert reach.sum() > 200 and bool(hit[0][reach].all())
    assert float((row[0][reach] - want_row[reach]).abs().max()) <= 1
    assert float((col[0][reach] - want_col[reach]).abs().max()) <= 1
    upper = ~on_floor & (d[..., 1] < 0)  # the wall above the horizon mirrors rays up past the camera: off screen
    assert upper.sum() > 500 and not bool(hit[0][upper].any())


def test_mirrored_rays_keep_the_angle_to_the_normal_and_leave_the_surface():
    position, normals, _, _, extr, _, on_floor, d = _floor_and_wall()
    rays = mirrored_rays(position, normals, extr)[0]
    view = -d / d.norm(dim=-1, keepdim=True)
    assert torch.allclose((rays * normals[0]).sum(-1), (view * normals[0]).sum(-1), atol=1e-5)
    assert torch.allclose(rays.norm(dim=-1), torch.ones(SIZE, SIZE), atol=1e-5)
    assert bool(((rays * normals[0]).sum(-1) > 0).all())


def test_pixels_that_mirror_only_sky_or_leave_the_frame_hit_nothing():
    position, normals, depth, seg, extr, intr, on_floor, _ = _floor_and_wall()
    seg = torch.where(on_floor, seg, -1)  # the wall becomes sky
    hit, row, col = screen_reflection(position, normals, seg, extr, intr)
    assert not bool(hit.any()) and int(row.abs().sum() + col.abs().sum()) == 0
    assert np.isfinite(position.numpy()).all()
