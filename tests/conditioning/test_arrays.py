"""The renderer's condition arrays (numpy) and tensors (torch): surfaces, area lights, boundaries, crops."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from worldsim.conditioning.arrays import CLIP_KEYS, KEYS, crop, from_frames
from worldsim.conditioning.tensors import COND_CHANNELS, PBR_CHANNELS, REFLECTION_START, boundary, build_conditions


def test_the_numpy_half_never_imports_torch():
    code = "import sys, worldsim.conditioning.arrays, worldsim.dataset; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def _scene_with_many_bodies(n):
    from worldsim.scene import scene_from_dict

    bodies = [{"name": "floor", "type": "plane"}]
    bodies += [{"name": f"b{i}", "type": "box", "size": [0.05, 0.05, 0.05], "color": [(i * 37 % 255) / 255, 0.5, 0.5],
                "position": [0.1 * (i % 8) - 0.35, 0.1 * (i // 8) - 0.35, 0.03]} for i in range(n - 1)]
    camera = {"position": [0, -1.2, 1.2], "target": [0, 0, 0], "resolution": [48, 40]}
    return scene_from_dict({"bodies": bodies, "cameras": [camera]})


def test_any_number_of_bodies_from_frames_to_tensors():
    """70 bodies (the old renderer refused more than 16): every key, the frame's size, every channel."""
    from worldsim.physics import PhysicsWorld
    from worldsim.teacher.tiny import render_frame

    spec = _scene_with_many_bodies(70)
    with PhysicsWorld(spec) as world:
        frames = [render_frame(world, passes="maps")]
    arrays = from_frames(spec, frames)
    assert set(arrays) == set(KEYS)
    assert arrays["albedo"].shape == (1, 40, 48, 3) and arrays["light"].shape == (10,)
    assert arrays["segmentation"].max() >= 60
    cond = build_conditions({k: v[None] for k, v in arrays.items()})
    assert cond.maps.shape == (1, 1, COND_CHANNELS, 40, 48)
    assert cond.pbr.shape == (1, 1, PBR_CHANNELS, 40, 48)


def test_empty_pixels_read_the_same_albedo_whichever_pass_drew_the_maps():
    """TinyRenderer's maps are white where no body is, the raster pass's black; the renderer must not
    tell them apart (a sky-heavy 256² clip drawn from black lost 1.9 dB against Cycles)."""
    from worldsim.physics import PhysicsWorld
    from worldsim.recording import draw_frame
    from worldsim.scene import scene_from_dict

    bodies = [{"name": "floor", "type": "plane"}, {"name": "box", "type": "box", "size": [0.2, 0.2, 0.2],
                                                   "color": [0.8, 0.2, 0.1], "position": [0, 0, 0.1]}]
    camera = {"position": [0, -1.5, 0.3], "target": [0, 0, 0.25], "resolution": [48, 40]}  # the horizon in view
    spec = scene_from_dict({"bodies": bodies, "cameras": [camera]})
    with PhysicsWorld(spec) as world:
        frames = {p: draw_frame(world, None, None, p, lit=False) for p in ("tiny", "raster")}
    empty = frames["tiny"].segmentation < 0
    assert 0.1 < empty.mean() < 0.9 and np.array_equal(empty, frames["raster"].segmentation < 0)
    assert frames["tiny"].albedo[empty].min() == 255 and frames["raster"].albedo[empty].max() == 0
    maps = {p: build_conditions({k: v[None] for k, v in from_frames(spec, [f]).items()}).maps[0, 0, :3].numpy()
            for p, f in frames.items()}
    assert np.array_equal(maps["tiny"][:, empty], maps["raster"][:, empty])
    assert np.all(maps["raster"][:, empty] == 1.0)
    box = frames["tiny"].segmentation == 1
    assert maps["raster"][0, box].mean() > maps["raster"][2, box].mean() + 0.5  # bodies keep their colour


def test_a_checkpoint_that_reads_no_reflections_gets_the_same_first_channels_without_them():
    """The sun and sky reflections come last and are computed only for a model that reads them."""
    from worldsim.physics import PhysicsWorld
    from worldsim.teacher.tiny import render_frame

    spec = _scene_with_many_bodies(5)
    with PhysicsWorld(spec) as world:
        frames = [render_frame(world, passes="maps")]
    batch = {k: v[None] for k, v in from_frames(spec, frames).items()}
    full, narrow = build_conditions(batch), build_conditions(batch, pbr_channels=REFLECTION_START)
    assert narrow.pbr.shape[2] == REFLECTION_START < PBR_CHANNELS
    assert torch.equal(narrow.pbr, full.pbr[:, :, :REFLECTION_START])
    assert full.pbr[:, :, REFLECTION_START:].abs().sum() > 0  # the default sun lights the boxes and the floor


def test_boundary_marks_where_bodies_meet():
    seg = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [-1, -1, -1, -1]])
    assert boundary(seg).tolist() == [[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]]


def test_crop_moves_the_principal_point_with_the_window():
    batch = {"albedo": np.arange(2 * 1 * 6 * 6 * 3).reshape(2, 1, 6, 6, 3), "intrinsics": np.tile(np.eye(3), (2, 1, 1)),
             "light": np.zeros((2, 10)), "extrinsics": np.zeros((2, 1, 4, 4))}
    batch["intrinsics"][:, :2, 2] = 3.0
    out = crop(batch, np.array([0, 2]), np.array([1, 3]), (3, 3))
    assert out["albedo"].shape == (2, 1, 3, 3, 3)
    assert np.array_equal(out["albedo"][1], batch["albedo"][1][:, 2:5, 3:6])
    assert out["intrinsics"][1, 0, 2] == 0.0 and out["intrinsics"][1, 1, 2] == 1.0
    assert "light" in CLIP_KEYS and np.array_equal(out["light"], batch["light"])


def test_pbr_map_reads_each_body_surface_with_material_defaults():
    from worldsim.conditioning.arrays import pbr_map
    from worldsim.materials import PBR_DEFAULTS
    from worldsim.scene import scene_from_dict

    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"},
                                       {"name": "a", "type": "sphere", "radius": 0.1, "material": "metal"},
                                       {"name": "b", "type": "sphere", "radius": 0.1, "roughness": 0.2, "metallic": 0.0}]})
    seg = np.array([[-1, 0, 1, 2]])
    out = pbr_map(spec, seg)
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[0, 2].tolist() == [round(v * 255) for v in PBR_DEFAULTS["metal"]]
    assert out[0, 3].tolist() == [51, 0, round(PBR_DEFAULTS["default"][2] * 255)]


def test_area_light_irradiance_matches_the_inverse_square_law():
    """Straight below a downward light of P watts at height d: E = P / (pi d^2); at 45 deg off axis, cos^2 / r^2."""
    from worldsim.conditioning.arrays import area_light_map
    from worldsim.scene import scene_from_dict

    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"}],
                            "area_lights": [{"position": [0, 0, 2.0], "target": [0, 0, 0], "power": 100.0}]})
    pos = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]], np.float32)
    normals = np.array([[[0, 0, 1.0], [0, 0, 1.0]]], np.float32)
    e = area_light_map(spec, pos, normals)[..., 0]
    assert e[0, 0] == pytest.approx(100 / (np.pi * 4), rel=1e-4)
    assert e[0, 1] == pytest.approx(100 * 0.5 / (np.pi * 8), rel=1e-4)
    assert area_light_map(spec, pos, np.zeros_like(normals)).max() == 0  # empty pixels get nothing




def _environment(sky: bool, horizon, zenith) -> torch.Tensor:
    return torch.tensor([[0.4, 0.05, float(sky), *horizon, *zenith]], dtype=torch.float32)


def test_environment_maps_show_the_world_colour_along_each_empty_ray():
    """A level camera: the row through the principal point looks at the horizon, the top row up at
    45°; the sky blends horizon to zenith by the ray's height, a uniform world is one colour."""
    from worldsim.conditioning.tensors import environment_maps, srgb_encode

    size = 33
    intr = torch.tensor([[[16.5, 0, 16.5], [0, 16.5, 16.5], [0, 0, 1]]])  # 90° field of view
    # Camera looking along world +x, image down = world -z (OpenCV axes: x right, y down, z forward).
    rot = torch.tensor([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    extr = torch.eye(4).repeat(1, 1, 1, 1)
    extr[0, 0, :3, :3] = rot
    normals = torch.zeros(1, 1, size, size, 3)
    normals[..., 2] = 1.0
    empty = torch.zeros(1, 1, size, size)
    horizon, zenith = torch.tensor([0.2, 0.3, 0.4]), torch.tensor([0.05, 0.1, 0.9])
    background, ambient = environment_maps(_environment(True, horizon, zenith), intr, extr, normals, empty)
    middle, top = background[0, 0, 16, 16], background[0, 0, 0, 16]
    assert torch.allclose(middle, srgb_encode(horizon), atol=2e-2)  # ray height ~0: horizon colour
    expected_top = srgb_encode(horizon + (zenith - horizon) * np.sin(np.arctan(16 / 16.5)))
    assert torch.allclose(top, expected_top, atol=2e-2)
    assert (ambient == 0).all()  # nothing seen, no surface to light
    flat, _ = environment_maps(_environment(False, horizon, zenith), intr, extr, normals, empty)
    assert torch.allclose(flat[0, 0], srgb_encode(horizon).expand(size, size, 3), atol=1e-6)


def test_sky_ambient_is_brighter_facing_the_zenith_and_zero_on_empty_pixels():
    from worldsim.conditioning.tensors import environment_maps

    intr = torch.tensor([[[8.0, 0, 4], [0, 8.0, 4], [0, 0, 1]]])
    extr = torch.eye(4)[None, None]
    normals = torch.zeros(1, 1, 8, 8, 3)
    normals[0, 0, :4, :, 2] = 1.0  # facing up
    normals[0, 0, 4:, :, 2] = -1.0  # facing down
    fg = torch.ones(1, 1, 8, 8)
    fg[0, 0, :, 0] = 0
    horizon, zenith = torch.tensor([0.5, 0.5, 0.5]), torch.tensor([0.2, 0.4, 1.4])
    background, ambient = environment_maps(_environment(True, horizon, zenith), intr, extr, normals, fg)
    assert torch.allclose(ambient[0, 0, 0, 3], horizon + (zenith - horizon) * 2 / 3, atol=1e-6)
    assert torch.allclose(ambient[0, 0, 7, 3], horizon, atol=1e-6)
    assert (ambient[0, 0, :, 0] == 0).all() and (background[0, 0, :, 1:] == 0).all()


def test_without_pbr_the_cycles_only_arrays_are_left_out_and_the_rest_is_unchanged():
    from worldsim.recording import rollout
    from worldsim.templates import random_scene

    spec = random_scene(1, 32, 3)
    frames = rollout(spec, seed=0, frames=2, resolution=(32, 24)).frames
    full, lean = from_frames(spec, frames), from_frames(spec, frames, pbr=False)
    assert set(full) - set(lean) == {"pbr", "area_light", "area_specular", "environment"}
    for key, value in lean.items():
        np.testing.assert_array_equal(value, full[key])
