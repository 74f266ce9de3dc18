"""Downscaled windows: the maps are what a coarser camera sees, the frames its path tracer's filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.conditioning import downscale
from worldsim.dataset import SHARD_KEYS, load_dataset
from worldsim.windows import coarsen


def _project(position: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pixel coordinates (u, v) of world points ``(H, W, 3)`` through a world-to-camera 4x4 and intrinsics."""
    cam = position @ extrinsics[:3, :3].T + extrinsics[:3, 3]
    return np.stack([intrinsics[0, 0] * cam[..., 0] / cam[..., 2] + intrinsics[0, 2],
                     intrinsics[1, 1] * cam[..., 1] / cam[..., 2] + intrinsics[1, 2]], -1)


@pytest.mark.parametrize("factor", [2, 4])
def test_sampled_positions_project_to_the_coarse_pixel_centres(tiny_dataset, factor):
    """Geometry against projection: each coarse pixel's sampled world point lies on that pixel's centre
    under the scaled intrinsics, so every map and the camera agree at the new scale."""
    arrays = {k: v[:1, :2] if k not in ("intrinsics", "light", "environment") else v[:1]
              for k, v in load_dataset(tiny_dataset).items() if k in SHARD_KEYS}
    coarse = coarsen(arrays, factor)
    size = arrays["rgb"].shape[2] // factor
    assert coarse["segmentation"].shape[2:] == (size, size) and coarse["rgb"].shape[2:4] == (size, size)
    on_body = coarse["segmentation"][0, 0] >= 0
    assert on_body.sum() > size  # the test means something only where there is geometry
    uv = _project(coarse["world_position"][0, 0].astype(np.float64), coarse["extrinsics"][0, 0], coarse["intrinsics"][0])
    centres = np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="xy"), -1)
    assert np.abs(uv - centres)[on_body].max() < 0.05
    # the unscaled intrinsics put them elsewhere: the check can fail
    wrong = _project(coarse["world_position"][0, 0].astype(np.float64), coarse["extrinsics"][0, 0], arrays["intrinsics"][0])
    assert np.abs(wrong - centres)[on_body].max() > 1


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
    frames[0, 0, 3, 3] = 255  # fine pixel 3 = 2*1 + 1: the pixel coarse (1, 1) samples at factor 2
    coarse = downscale.filter_frames(frames, 2)[0, 0, ..., 0].astype(int)
    assert coarse.argmax() == 1 * 4 + 1
    edge = np.zeros((1, 1, 8, 8, 3), np.uint8)
    edge[0, 0, 4, 4] = 255  # between coarse 1 and 2 along both axes: a quarter of its light to each of four
    split = downscale.filter_frames(edge, 2)[0, 0, ..., 0].astype(int)
    assert split[1, 1] == split[1, 2] == split[2, 1] == split[2, 2] > 0


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
