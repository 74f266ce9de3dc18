"""Downscaled windows: the maps are what a coarser camera sees, the frames its path tracer's filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.conditioning import downscale
from worldsim.dataset import SHARD_KEYS, load_dataset
from worldsim.windows import coarsen


def _maps(frame, dtype_of: dict) -> dict:
    """A map-pass frame as one clip's arrays with (B, T) = (1, 1) axes, in the dataset's dtypes."""
    out = {key: np.asarray(getattr(frame, key)).astype(dtype)[None, None] for key, dtype in dtype_of.items()}
    out["intrinsics"] = np.asarray(frame.intrinsics, np.float32)[None]
    out["extrinsics"] = np.asarray(frame.extrinsics, np.float32)[None, None]
    return out


@pytest.mark.parametrize("factor", [2, 4])
def test_downscaled_maps_are_the_map_pass_at_the_coarse_size(factor):
    """What the render path draws at 1/factor the size: the same bodies on every pixel, the same depth,
    positions and normals, and the coarse camera's intrinsics; maps sampled at pixel centres would not be."""
    from tests.conftest import SCENE_DIR
    from worldsim.physics import PhysicsWorld
    from worldsim.physics.decimate import visual_faces_for
    from worldsim.scene import load_scene
    from worldsim.teacher.maps import TINY_SAMPLE, render_maps
    from worldsim.teacher.scene_mesh import scene_mesh

    assert downscale.SAMPLE == TINY_SAMPLE
    fine_size = 128
    spec = load_scene(SCENE_DIR / "tower_topple.yaml")
    with PhysicsWorld(spec, visual_faces=visual_faces_for(fine_size)) as world:
        world.step_frames(10)
        view = [(scene_mesh(world), spec.camera(None))]
        fine, native = (render_maps(view, (size, size), visibility=False)[0] for size in (fine_size, fine_size // factor))
    kinds = {"segmentation": np.int16, "depth": np.float16, "normals": np.float16, "world_position": np.float16,
             "albedo": np.uint8, "material": np.uint8}
    coarse, want = coarsen(_maps(fine, kinds), factor), _maps(native, kinds)
    assert coarse["segmentation"].shape == want["segmentation"].shape
    np.testing.assert_allclose(coarse["intrinsics"], want["intrinsics"], rtol=1e-6)
    same = coarse["segmentation"] == want["segmentation"]
    assert same.mean() >= 0.995, same.mean()
    on = same & (want["segmentation"] >= 0)
    assert on.sum() > 0.3 * on.size
    def gap(key):
        return coarse[key].astype(np.float32) - want[key].astype(np.float32)

    assert np.percentile(np.abs(gap("depth"))[on], 99) <= 0.01
    assert np.percentile(np.linalg.norm(gap("world_position"), axis=-1)[on], 99) <= 0.01
    normal = np.abs(gap("normals")).sum(-1)[on]
    assert np.median(normal) <= 0.03  # one-sided differences span a fine pixel here, a coarse one there
    np.testing.assert_array_equal(coarse["material"][on], want["material"][on])
    # the check can fail: the centre of each block (where a naive subsample looks) is another pixel
    naive = _maps(fine, kinds)["segmentation"][:, :, factor // 2::factor, factor // 2::factor]
    assert (naive == want["segmentation"]).mean() < same.mean()


def test_frames_are_averaged_in_linear_light_not_in_srgb_codes():
    """A black and white checker seen from twice as far is linear mid-grey (sRGB 188), not code 128."""
    checker = ((np.indices((8, 8)).sum(0) % 2) * 255).astype(np.uint8)
    frames = np.repeat(checker[None, None, :, :, None], 3, axis=-1)
    coarse = downscale.filter_frames(frames, 2)
    assert coarse.shape == (1, 1, 4, 4, 3)
    interior = coarse[:, :, :-1, :-1]  # the last row and column reach past the edge, which is repeated
    assert np.all(np.abs(interior.astype(int) - 188) <= 1)
    flat = np.full((1, 2, 8, 6, 3), 77, np.uint8)
    assert np.array_equal(downscale.filter_frames(flat, 2), np.full((1, 2, 4, 3, 3), 77, np.uint8))


def test_the_frame_filter_is_centred_on_the_sampled_pixel():
    """A single bright fine pixel at a sampled position lands in that coarse pixel and splits evenly
    (tent weights 1/2) into neither neighbour more than the other."""
    frames = np.zeros((1, 1, 8, 8, 3), np.uint8)
    row, col = downscale.offsets(2)
    frames[0, 0, 2 + row, 2 + col] = 255  # the fine pixel coarse (1, 1) samples at factor 2
    coarse = downscale.filter_frames(frames, 2)[0, 0, ..., 0].astype(int)
    assert coarse.argmax() == 1 * 4 + 1 and (coarse > 0).sum() == 1
    edge = np.zeros((1, 1, 8, 8, 3), np.uint8)
    edge[0, 0, 3 + row, 3 + col] = 255  # between coarse 1 and 2 along both axes: a quarter of its light to each of four
    split = downscale.filter_frames(edge, 2)[0, 0, ..., 0].astype(int)
    assert split[1, 1] == split[1, 2] == split[2, 1] == split[2, 2] > 0 and (split > 0).sum() == 4


def test_numpy_and_torch_downscale_alike(tiny_dataset):
    arrays = {k: v[:2] for k, v in load_dataset(tiny_dataset).items() if k in SHARD_KEYS}
    expected = coarsen(arrays, 2)
    got = coarsen({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}, 2)
    for key, value in expected.items():
        diff = np.abs(value.astype(np.float64) - got[key].numpy().astype(np.float64))
        assert diff.max() <= (1 if key == "rgb" else 0), key  # rgb: a last-bit pow difference may round apart


@pytest.mark.parametrize("factor", [1, 3])
def test_factors_that_cannot_be_centred_are_refused(factor):
    with pytest.raises(ValueError, match="even number"):
        downscale.check_factor(factor)
