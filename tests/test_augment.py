"""Colour-channel permutation: what it swaps, that both teachers really are symmetric under it, and
that training windows carry it identically on both paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.augment import ORDERS, draw_orders, permute_colours
from worldsim.dataset import SHARD_KEYS, load_dataset
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
