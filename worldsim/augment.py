"""Colour-channel permutation: an exact symmetry of the teachers, used to widen what training sees.

A renderer that works in RGB multiplies colours channel by channel (a surface's colour by its light's,
bounce after bounce), and both teachers do: a scene whose every colour (bodies, textures, sun, sky,
area lights) has its R, G and B swapped around renders as the same swap of the original's picture,
bit for bit with TinyRenderer and with Cycles ("Standard" view transform) before its denoiser
(``tests/test_augment.py``). OpenImageDenoise's network is not exactly symmetric: with it the two
pictures agree to 40–43 dB PSNR at 48² (8–32 samples) and 58 dB on a checkered scene at 128², far
closer than the renderer's 23 dB error. So a training window whose colour inputs and target frames
are permuted together is the window of another valid scene, with no new rendering: six colour
casts of every sky, floor and light the dataset holds instead of one, so the network learns to read
colour from its inputs rather than to remember which scene looks which way.

The colour inputs are the per-pixel ``rgb``, ``albedo``, ``area_light`` and ``context`` arrays (last
axis), the light's colour (``light[3:6]``) and the world's horizon and zenith colours
(``environment[3:6]``, ``environment[6:9]``). Everything else is colourless: geometry, the
roughness/metallic/specular maps, and the glare maps (weighted by each light colour's mean).
"""

from __future__ import annotations

import numpy as np
import torch

ORDERS = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])  # the identity first
IMAGE_KEYS = ("rgb", "albedo", "area_light", "context")  # (B, ..., 3)
VECTOR_COLOURS = {"light": (3,), "environment": (3, 6)}  # (B, D): where each colour triple starts


def draw_orders(rng: np.random.Generator, batch: int, fraction: float) -> np.ndarray:
    """``(batch, 3)`` channel orders: a random non-identity one for about ``fraction`` of the rows,
    the identity for the rest."""
    swap = rng.uniform(size=batch) < fraction
    return np.where(swap[:, None], ORDERS[rng.integers(1, len(ORDERS), size=batch)], ORDERS[0])


def _take(value, index: np.ndarray):
    """``value (B, ..., D)`` with row b's last axis reordered by ``index[b]`` (``(B, D)``); numpy or torch."""
    shape = index.shape[:1] + (1,) * (value.ndim - 2) + index.shape[-1:]
    if isinstance(value, torch.Tensor):
        return torch.gather(value, -1, torch.as_tensor(index, device=value.device).reshape(shape).expand(value.shape))
    return np.take_along_axis(value, index.reshape(shape), axis=-1)


def _vector_index(orders: np.ndarray, width: int, starts: tuple[int, ...]) -> np.ndarray:
    """``(B, width)``: each row's identity, with the colour triple at each of ``starts`` reordered."""
    index = np.tile(np.arange(width), (len(orders), 1))
    for start in starts:
        index[:, start:start + 3] = start + orders
    return index


def permute_colours(batch: dict, orders: np.ndarray) -> dict:
    """The batch with every colour input and target reordered per row by ``orders (B, 3)`` (see the
    module docstring); a new dict, whose arrays that hold colour are new. Keys a batch lacks (a
    raster dataset has no environment) are skipped."""
    out = dict(batch)
    for key in IMAGE_KEYS:
        if key in out:
            out[key] = _take(out[key], orders)
    for key, starts in VECTOR_COLOURS.items():
        if key in out:
            out[key] = _take(out[key], _vector_index(orders, out[key].shape[-1], starts))
    return out
