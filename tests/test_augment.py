"""Colour-channel permutation: what it swaps, that both teachers really are symmetric under it, and
that training windows carry it identically on both paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.augment import GAIN_SPREAD, ORDERS, draw_gains, draw_orders, permute_colours, scale_light
from worldsim.conditioning.arrays import from_frames
from worldsim.conditioning.tensors import build_conditions, srgb_decode, srgb_encode
from worldsim.dataset import SHARD_KEYS, load_dataset
from worldsim.materials import srgb_to_linear
from worldsim.metrics import psnr
from worldsim.physics import PhysicsWorld
from worldsim.scene import scene_from_dict
from worldsim.windows import DeviceWindows, plan_windows, take_arrays

ORDER = [2, 0, 1]


def _batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"rgb": rng.integers(0, 256, (2, 3, 4, 5, 3), dtype=np.uint8),
            "albedo": rng.integers(0, 256, (2, 3, 4, 5, 3), dtype=np.uint8),
            "area_light": rng.random((2, 3, 4, 5, 3)).astype(np.float16),
            "context": rng.integers(0, 256, (2, 1, 4, 5, 3), dtype=np.uint8),
            "normals": rng.random((2, 3, 4, 5, 3)).astype(np.float16),
            "light": rng.random((2, 10)).astype(np.float32), "environment": rng.random((2, 9)).astype(np.float32)}


def test_permute_colours_swaps_every_colour_input_per_row_and_nothing_else():
    batch = _batch(np.random.default_rng(0))
    orders = np.array([ORDER, [0, 1, 2]])
    out = permute_colours(batch, orders)
    for key in ("rgb", "albedo", "area_light", "context"):
        assert np.array_equal(out[key][0], batch[key][0][..., ORDER]), key
        assert np.array_equal(out[key][1], batch[key][1]), key  # the identity row is untouched
    assert np.array_equal(out["normals"], batch["normals"])  # geometry has no colour
    assert np.array_equal(out["light"][0], np.r_[batch["light"][0, :3], batch["light"][0, 3:6][ORDER], batch["light"][0, 6:]])
    env = batch["environment"][0]
    assert np.array_equal(out["environment"][0], np.r_[env[:3], env[3:6][ORDER], env[6:9][ORDER]])
    assert not np.array_equal(batch["light"][0, 3:6], out["light"][0, 3:6])  # the input itself is not modified
    torch_out = permute_colours({k: torch.from_numpy(v) for k, v in batch.items()}, orders)
    for key, value in out.items():
        assert np.array_equal(torch_out[key].numpy(), value), key


def test_draw_orders_permutes_about_the_fraction_asked_and_never_otherwise():
    orders = draw_orders(np.random.default_rng(1), 4000, 0.5)
    swapped = (orders != ORDERS[0]).any(axis=1)
    assert 0.45 < swapped.mean() < 0.55
    assert {tuple(o) for o in orders[swapped]} == {tuple(o) for o in ORDERS[1:]}
    assert not (draw_orders(np.random.default_rng(1), 100, 0.0) != ORDERS[0]).any()


def _scene(order: list[int]) -> dict:
    """Coloured sun, sky, area light, bodies and a checker floor, every colour's channels in ``order``."""
    def c(rgb):
        return [rgb[i] for i in order]

    return {"bodies": [
        {"name": "floor", "type": "plane", "texture": {"checker": 4, "color_a": c([0.9, 0.7, 0.2]),
                                                         "color_b": c([0.1, 0.3, 0.6])}},
        {"name": "box", "type": "box", "size": [0.3, 0.3, 0.3], "position": [0, 0, 0.15], "color": c([0.8, 0.2, 0.1])},
        {"name": "ball", "type": "sphere", "radius": 0.12, "position": [0.3, -0.25, 0.12], "color": c([0.2, 0.7, 0.4]),
         "material": "glossy"}],
        "light": {"direction": [0.4, -0.6, 1.0], "color": c([1.0, 0.85, 0.6])},
        "environment": {"kind": "sky", "color": c([0.8, 0.6, 0.4]), "zenith_color": c([0.2, 0.3, 0.9]), "strength": 1.0},
        "area_lights": [{"position": [0.5, -0.8, 1.2], "power": 150.0, "color": c([0.4, 0.6, 1.0])}],
        "cameras": [{"position": [0.9, -1.1, 0.8], "target": [0, -0.1, 0.1], "resolution": [48, 48]}]}


@pytest.mark.parametrize("teacher", ["tiny", "cycles"])
def test_a_scene_with_every_colour_permuted_renders_as_the_permuted_picture(teacher):
    """The premise of the augmentation: both teachers treat R, G and B alike, so swapping every colour
    of a scene swaps its picture's channels the same way, bit for bit (Cycles without its denoiser,
    whose network is not exactly symmetric: 40 dB on this scene with it). The colours do matter:
    unswapped, the pictures differ, and so they do with only the area light's colour left unswapped."""
    def draw(order):
        with PhysicsWorld(scene_from_dict(_scene(order))) as world:
            if teacher == "tiny":
                from worldsim.teacher.tiny import render_frame

                return render_frame(world).rgb
            pytest.importorskip("bpy", reason="Blender's bpy is not installed (pip install 'worldsim[cycles]')")
            from worldsim.teacher.cycles import CyclesOptions, CyclesTeacher

            with CyclesTeacher(world, options=CyclesOptions(samples=8, denoise=False)) as cycles:
                return cycles.render(world)

    original, swapped = draw([0, 1, 2]), draw(ORDER)
    assert np.array_equal(original[..., ORDER], swapped)
    assert psnr(original, swapped) < 25


@pytest.mark.parametrize("size", [None, 20])
def test_windows_with_permuted_colours_are_the_same_windows_swapped_on_both_paths(tiny_dataset, size):
    arrays = {k: v for k, v in load_dataset(tiny_dataset).items() if k in SHARD_KEYS}
    clips, length, shape = np.arange(arrays["rgb"].shape[0]), arrays["rgb"].shape[1], arrays["rgb"].shape[2:4]

    def plan(fraction):
        return plan_windows(np.random.default_rng(7), clips, length, shape, batch=6, frames=2, context_prob=0.5,
                            size=size, colour_permutation=fraction)

    plain, swapped = plan(0.0), plan(1.0)
    assert plain.colours is None and (swapped.colours != ORDERS[0]).any(axis=1).all()
    assert np.array_equal(plain.pick, swapped.pick) and np.array_equal(plain.frames, swapped.frames)  # same windows
    expected = permute_colours(take_arrays(arrays, plain), swapped.colours)
    got_numpy, got_device = take_arrays(arrays, swapped), DeviceWindows(arrays, torch.device("cpu")).take(swapped)
    for key, value in expected.items():
        assert np.array_equal(got_numpy[key], value), key
        assert np.array_equal(got_device[key].numpy(), np.asarray(value)), key


# Light gain -----------------------------------------------------------------------------------------
GAINS = np.array([1.3, 1.0, 1.15], np.float32)


def _encode(linear: np.ndarray) -> list[float]:
    return srgb_encode(torch.tensor(linear, dtype=torch.float32)).tolist()


def _gained_scene(gains: np.ndarray, area: bool = True) -> dict:
    """:func:`_scene` with every emitter's linear colour times ``gains``: the sun's colour kept at its
    brightest channel (its strength takes the rest, as :func:`scale_light` does), the others' at most 1.
    ``area=False`` leaves the area light as it was."""
    scene, top = _scene([0, 1, 2]), float(gains.max())
    sun = srgb_to_linear(np.array(scene["light"]["color"]))
    factor = float((sun * gains).max() / sun.max())
    scene["light"].update(color=_encode(sun * gains / factor), strength=3.0 * factor)
    env = scene["environment"]
    env.update(color=_encode(srgb_to_linear(np.array(env["color"])) * gains / top),
               zenith_color=_encode(srgb_to_linear(np.array(env["zenith_color"])) * gains / top), strength=top)
    if area:
        light = scene["area_lights"][0]
        light.update(color=_encode(srgb_to_linear(np.array(light["color"])) * gains / top), power=light["power"] * top)
    return scene


def _arrays(scene: dict, frames) -> dict[str, np.ndarray]:
    spec = scene_from_dict(scene)
    return {k: v[None] for k, v in {"rgb": np.stack([f.rgb for f in frames]), **from_frames(spec, frames)}.items()}


def test_scaled_light_gives_the_model_the_inputs_of_the_scene_whose_lights_took_the_gains():
    """Every input the model reads (the light and world vectors, the area-light and glare maps and the
    sun and sky reflections built from them) is the gained scene's, on the same geometry."""
    with PhysicsWorld(scene_from_dict(_scene([0, 1, 2]))) as world:
        from worldsim.teacher.tiny import render_frame

        frames = [render_frame(world)]
    scaled = scale_light(_arrays(_scene([0, 1, 2]), frames), GAINS[None])
    expected = _arrays(_gained_scene(GAINS), frames)
    for key in ("light", "environment"):
        np.testing.assert_allclose(scaled[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for key in ("area_light", "area_specular"):  # float16 arrays
        np.testing.assert_allclose(scaled[key].astype(np.float32), expected[key].astype(np.float32), rtol=2e-3,
                                   atol=1e-3, err_msg=key)
    got, want = build_conditions(scaled), build_conditions(expected)
    torch.testing.assert_close(got.pbr, want.pbr, rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(got.global_, want.global_)
    unscaled = build_conditions(_arrays(_scene([0, 1, 2]), frames))
    assert (unscaled.pbr - want.pbr).abs().max() > 0.05  # the gains do change the inputs


def test_scale_light_brightens_only_channels_clipped_at_white_and_agrees_on_numpy_and_torch():
    rng = np.random.default_rng(3)
    batch = _batch(rng)
    batch["rgb"], batch["context"] = np.minimum(batch["rgb"], 254), np.minimum(batch["context"], 254)
    batch["rgb"][1, ..., 0] = 255  # row 1's red is clipped everywhere: darkening it would invent values
    batch["area_specular"] = rng.random((2, 3, 4, 5, 2)).astype(np.float16)
    gains = np.array([[0.8, 1.2, 1.0], [0.8, 1.2, 0.9]], np.float32)
    out = scale_light(batch, gains)
    linear = srgb_decode(torch.from_numpy(batch["rgb"]).float() / 255)
    assert np.allclose(out["rgb"][0], (srgb_encode(linear[0] * torch.tensor(gains[0])) * 255).numpy())
    assert (out["rgb"][1, ..., 0] == 255).all()  # kept at 1×, and exactly white: the clipped loss needs it
    assert np.allclose(out["rgb"][1, ..., 2], (srgb_encode(linear[1, ..., 2] * 0.9) * 255).numpy())  # others scale
    assert np.array_equal(out["albedo"], batch["albedo"]) and np.array_equal(out["normals"], batch["normals"])
    torch_out = scale_light({k: torch.from_numpy(v) for k, v in batch.items()}, gains)
    for key, value in out.items():
        np.testing.assert_allclose(torch_out[key].numpy(), value, rtol=1e-6, err_msg=key)
    unit = scale_light(batch, np.ones((2, 3), np.float32))  # unit gains: the sRGB round trip alone
    for key in ("rgb", "light", "environment", "area_specular"):
        np.testing.assert_allclose(unit[key], batch[key], rtol=1e-5, atol=1e-4, err_msg=key)


def test_draw_gains_scales_about_the_fraction_asked_within_the_spread():
    gains = draw_gains(np.random.default_rng(2), 4000, 0.5)
    moved = (gains != 1).any(axis=1)
    assert 0.45 < moved.mean() < 0.55
    assert np.exp(-GAIN_SPREAD) <= gains.min() and gains.max() <= np.exp(GAIN_SPREAD)
    assert (draw_gains(np.random.default_rng(2), 100, 0.0) == 1).all()


def test_cycles_renders_the_gained_scene_as_the_gained_picture_within_its_own_noise():
    """The premise of the light gain: with every emitter's colour times the gains, Cycles' picture is
    the original's, decoded, times the gains and encoded again. Not bit for bit (the light tree picks
    lights by power, so the samples move), but closer than two seeds of one scene are to each other;
    and a scene whose area light kept its colour is further off than that."""
    pytest.importorskip("bpy", reason="Blender's bpy is not installed (pip install 'worldsim[cycles]')")
    from worldsim.teacher.cycles import CyclesOptions, CyclesTeacher

    def draw(scene: dict, seed: int = 0) -> np.ndarray:
        scene["cameras"][0]["resolution"] = [64, 64]
        with PhysicsWorld(scene_from_dict(scene)) as world, \
                CyclesTeacher(world, options=CyclesOptions(samples=16)) as cycles:
            cycles.scene.cycles.seed = seed
            return cycles.render(world)

    original = _scene([0, 1, 2])
    original["light"]["strength"] = 3.0
    before = draw(original)
    predicted = np.round(scale_light({"rgb": before[None]}, GAINS[None])["rgb"][0]).astype(np.uint8)
    gained, floor = draw(_gained_scene(GAINS)), psnr(before, draw(original, seed=1))
    assert psnr(predicted, gained) > floor + 3  # measured: 43.3 dB against the seeds' 35.9
    assert psnr(before, gained) < floor - 5  # the gains matter (27.6 dB)
    assert psnr(predicted, draw(_gained_scene(GAINS, area=False))) < psnr(predicted, gained) - 5  # 34.8 dB


def test_windows_with_gained_light_are_the_same_windows_on_both_paths(tiny_dataset):
    arrays = {k: v for k, v in load_dataset(tiny_dataset).items() if k in SHARD_KEYS}
    clips, length, shape = np.arange(arrays["rgb"].shape[0]), arrays["rgb"].shape[1], arrays["rgb"].shape[2:4]

    def plan(fraction):
        return plan_windows(np.random.default_rng(7), clips, length, shape, batch=6, frames=2, context_prob=0.5,
                            size=20, colour_permutation=0.5, light_gain=fraction)

    plain, gained = plan(0.0), plan(1.0)
    assert plain.gains is None and (gained.gains != 1).any(axis=1).all()
    assert np.array_equal(plain.pick, gained.pick) and np.array_equal(plain.colours, gained.colours)  # drawn last
    expected = scale_light(take_arrays(arrays, plain), gained.gains)
    got_numpy, got_device = take_arrays(arrays, gained), DeviceWindows(arrays, torch.device("cpu")).take(gained)
    assert not np.allclose(got_numpy["rgb"], take_arrays(arrays, plain)["rgb"])
    for key, value in expected.items():
        np.testing.assert_array_equal(got_numpy[key], value, err_msg=key)
        np.testing.assert_allclose(got_device[key].numpy(), np.asarray(value), rtol=1e-6, err_msg=key)
