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


def test_only_the_marched_pixels_find_what_they_mirror_and_find_the_same():
    position, normals, _, seg, extr, intr, on_floor, _ = _floor_and_wall()
    everything = screen_reflection(position, normals, seg, extr, intr)
    left = torch.zeros(1, SIZE, SIZE, dtype=torch.bool)
    left[..., : SIZE // 2] = True
    hit, row, col = screen_reflection(position, normals, seg, extr, intr, marched=left)
    assert bool(everything[0][~left].any()) and not bool(hit[~left].any())
    assert torch.equal(hit[left], everything[0][left]) and torch.equal(row[left], everything[1][left])
    assert torch.equal(col[left], everything[2][left])


RED = (200, 30, 30)  # the wall's albedo, sRGB


def _clip(size: int = SIZE, sky: bool = False) -> dict[str, np.ndarray]:
    """The floor and wall as a clip's condition arrays: a glossy grey floor, a rough red wall facing
    the sun (white, strength 5, straight at the wall), no area light; a black world, or with ``sky`` a blue sky."""
    global SIZE, FOCAL
    saved = SIZE, FOCAL
    SIZE, FOCAL = size, size / 2
    try:
        position, normals, depth, seg, extr, intr, on_floor, _ = _floor_and_wall()
    finally:
        SIZE, FOCAL = saved
    albedo = np.where(on_floor.numpy()[..., None], np.uint8(128), np.array(RED, np.uint8))
    rough = np.where(on_floor.numpy(), 25, 200)  # 0.1 and 0.8
    pbr = np.stack([rough, np.zeros_like(rough), np.full_like(rough, 128)], -1).astype(np.uint8)
    light = np.array([0, 0, -1, 1, 1, 1, 0.3, 1, 0.5, 1], np.float32)
    environment = np.array([1.0, 0.05, 1.0, 0.2, 0.3, 0.6, 0.05, 0.1, 0.4] if sky else [1.0, 0.05] + [0.0] * 7, np.float32)
    return {"albedo": albedo[None], "normals": normals.numpy(), "world_position": position.numpy(),
            "segmentation": seg.numpy().astype(np.int16), "light_visibility": np.ones((1, size, size), np.uint8),
            "pbr": pbr[None], "area_light": np.zeros((1, size, size, 3), np.float16), "extrinsics": extr.numpy(),
            "intrinsics": intr.numpy(), "light": light, "environment": environment,
            "depth": depth.numpy(), "material": np.ones((1, size, size), np.uint8),
            "area_specular": np.zeros((1, size, size, 2), np.float16)}


def test_the_floor_mirrors_the_walls_matte_light_and_the_rough_wall_mirrors_nothing():
    from worldsim.conditioning.screen_reflection import mirror_radiance

    clip = _clip()
    mirror = mirror_radiance(clip)[0]
    hit, _, _ = screen_reflection(*(torch.from_numpy(clip[k]).float() for k in ("world_position", "normals")),
                                  torch.from_numpy(clip["segmentation"]).long(),
                                  torch.from_numpy(clip["extrinsics"]), torch.from_numpy(clip["intrinsics"]))
    met = mirror[..., 0] >= 0
    on_floor = torch.from_numpy(clip["albedo"][0, ..., 1] == 128)
    assert torch.equal(met, hit[0] & on_floor) and met.sum() > 200  # the wall is rough: its rays are not marched
    # by hand: red albedo, decoded, times the sun's 5 W/m² head on, over pi (no sky, no area light)
    red = torch.tensor([((c / 255 + 0.055) / 1.055) ** 2.4 for c in RED]) * 5 / torch.pi
    assert torch.allclose(mirror[met], red.expand(int(met.sum()), 3), rtol=1e-4)
    assert bool((mirror[~met] == -1).all())


def test_large_frames_march_one_pixel_per_cell_and_share_its_answer():
    from worldsim.conditioning.screen_reflection import march_stride, mirror_radiance

    assert [march_stride(s, s) for s in (64, 128, 256, 512)] == [1, 1, 2, 4] and march_stride(256, 128) == 1
    mirror = mirror_radiance(_clip(256))[0]
    cells = mirror.reshape(128, 2, 128, 2, 3).permute(0, 2, 1, 3, 4).reshape(128, 128, 4, 3)  # (cell, cell, 4 pixels, rgb)
    smooth = torch.from_numpy(_clip(256)["albedo"][0, ..., 1] == 128).reshape(128, 2, 128, 2).all(3).all(1)
    assert bool((cells[smooth] == cells[smooth][:, 3:]).all())  # the cell's marched pixel is its (1, 1)
    assert int((cells[smooth][:, 0, 0] >= 0).sum()) > 1000


def test_the_mirror_channels_are_the_same_from_a_stored_mirror_and_follow_the_colour_symmetries():
    """Built from whole frames or read from a stored ``mirror``, the channels agree; swapping the
    scene's colours swaps what is mirrored, and gaining its light gains it (both exact symmetries
    of the renderer, :mod:`worldsim.augment`)."""
    from worldsim.augment import permute_colours, scale_light
    from worldsim.conditioning.screen_reflection import mirror_maps
    from worldsim.conditioning.tensors import MIRROR_START, build_conditions

    batch = {k: v[None] for k, v in _clip(sky=True).items()}
    batch["rgb"] = np.zeros_like(batch["albedo"])
    worked = build_conditions(batch).pbr[:, :, MIRROR_START:]
    stored = build_conditions({**batch, "mirror": mirror_maps(batch).numpy()}).pbr[:, :, MIRROR_START:]
    assert torch.equal(worked, stored) and float(worked[:, :, 3].sum()) > 200
    mirror = mirror_maps(batch).numpy()
    order = np.array([[2, 0, 1]])
    swapped = permute_colours({**batch, "mirror": mirror}, order)
    assert np.allclose(mirror_maps(swapped).numpy(), swapped["mirror"], atol=1e-6)
    gains = np.array([[1.2, 0.8, 1.1]], np.float32)
    gained = scale_light({**batch, "mirror": mirror}, gains)
    assert np.allclose(mirror_maps(gained).numpy(), gained["mirror"], rtol=1e-4, atol=1e-6)
    assert not np.allclose(gained["mirror"], mirror)
