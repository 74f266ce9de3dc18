"""Windows of stored frames shown at a coarser scale: what a camera of ``1/s`` the resolution would see.

Training draws its windows from 256² frames; the model must also render 64² and 128² frames, where a
body covers 4-16× fewer pixels. A window downscaled by ``s`` shows the model that scale without a
second dataset. Each kind of array is downscaled the way the render path makes it at that resolution:

- **condition maps** are point samples, so they are sampled, never averaged: an averaged segmentation
  or normal is a value no rasterizer produces. The map pass samples pixel ``(row i, column j)`` at
  ``(x, y) = (j, i + 1)`` (``SAMPLE``, TinyRenderer's corner, :data:`worldsim.teacher.maps.TINY_SAMPLE`),
  so the coarse pixel's sample point is exactly fine pixel ``(s*i + s - 1, s*j)``'s: the maps are the
  ones the map pass draws at the coarse resolution (``tests/conditioning/test_downscale.py``);
- **world positions** are the sampled depth unprojected through the coarse pixel centres, as the map
  pass makes them; normals are sampled (their one-sided differences then span one fine pixel, not one
  coarse pixel: on curved bodies a little truer than the coarse pass's);
- **frames** (``rgb``, ``context``: sRGB uint8) are what the path tracer's pixel filter integrates (its
  picture is shifted to the same sample points), so they are averaged in linear light with the tent
  ``[1/2, 1, …, 1, 1/2] / s`` of ``s + 1`` taps centred on the fine pixel the maps sample (edges
  repeated); for ``s = 2`` that is ``[1, 2, 1] / 4``;
- **intrinsics** are divided by ``s``: uncropped, exactly the coarse camera's.

Numpy arrays in, numpy out; tensors in, tensors out (on their device). The work is done in torch
either way, as :func:`worldsim.augment.scale_light` does, so the CPU and the device window paths
give the same values.
"""

from __future__ import annotations

import numpy as np
import torch

from worldsim.conditioning.arrays import NON_PIXEL_KEYS
from worldsim.conditioning.tensors import srgb_decode, srgb_encode

FRAME_KEYS = ("rgb", "context")  # filtered as light; every other pixel array is a point-sampled map
SAMPLE = (0.0, 1.0)  # where the map pass samples a pixel, (x right, y down) in pixels: teacher.maps.TINY_SAMPLE


def check_factor(factor: int) -> None:
    """Refuse a factor the sampling above cannot centre (odd) or that does nothing (1)."""
    if factor < 2 or factor % 2:
        raise ValueError(f"a downscale factor is an even number of fine pixels per coarse pixel, 2 or more; got {factor}")


def check_factors(factors) -> tuple[int, ...]:
    """``factors`` as a tuple, each checked by :func:`check_factor`; at least one."""
    if not factors:
        raise ValueError("downscale factors: at least one, e.g. 2,4")
    for factor in factors:
        check_factor(factor)
    return tuple(factors)


def coarsen(batch: dict, factor: int) -> dict:
    """A batch of windows (numpy or torch) shown at ``1/factor`` the scale; itself at factor 1."""
    if factor == 1:
        return batch
    out = {}
    for key, value in batch.items():
        if key in FRAME_KEYS:
            out[key] = filter_frames(value, factor)
        elif key in NON_PIXEL_KEYS or key == "has_context":
            out[key] = value
        else:
            out[key] = sample_map(value, factor)
    if "intrinsics" in out:
        out["intrinsics"] = scaled_intrinsics(out["intrinsics"], factor)
        if {"world_position", "depth", "segmentation", "extrinsics"} <= out.keys():
            out["world_position"] = unproject(out["depth"], out["segmentation"], out["intrinsics"], out["extrinsics"])
    return out


def offsets(factor: int) -> tuple[int, int]:
    """(row, column) of the fine pixel, within each ``factor x factor`` block, that shares the coarse pixel's sample point."""
    return round(SAMPLE[1] * (factor - 1)), round(SAMPLE[0] * (factor - 1))


def sample_map(value, factor: int):
    """Point-sample a map ``(B, T, H, W[, C])`` at the coarse pixels' sample points."""
    row, col = offsets(factor)
    return value[:, :, row::factor, col::factor]


def unproject(depth, segmentation, intrinsics, extrinsics):
    """World positions ``(B, T, H, W, 3)`` float16 of pixel centres at ``depth`` (B, T, H, W), 0 where
    ``segmentation`` is empty: the map pass's ``world_position`` (``teacher.camera.unproject``)."""
    numpy = isinstance(depth, np.ndarray)
    depth, segmentation, intrinsics, extrinsics = (_tensor(v) for v in (depth, segmentation, intrinsics, extrinsics))
    height, width = depth.shape[2:]
    centres = (torch.arange(height, device=depth.device) + 0.5, torch.arange(width, device=depth.device) + 0.5)
    v, u = torch.meshgrid(*centres, indexing="ij")
    d, k = depth.float(), intrinsics[:, None, None, None]  # k: (B, 1, 1, 1, 3, 3)
    x = (u - k[..., 0, 2]) / k[..., 0, 0] * d
    y = (v - k[..., 1, 2]) / k[..., 1, 1] * d
    cam = torch.stack([x, y, d], -1) - extrinsics[:, :, None, None, :3, 3]
    world = torch.einsum("btji,bthwj->bthwi", extrinsics[..., :3, :3], cam)  # R^T (p - t)
    world = torch.where((segmentation >= 0)[..., None], world, 0.0).to(torch.float16)
    return world.numpy() if numpy else world


def filter_frames(value, factor: int):
    """sRGB uint8 frames ``(B, T, H, W, 3)`` to ``(B, T, H/s, W/s, 3)``: the tent filter in linear light."""
    numpy = isinstance(value, np.ndarray)
    linear = srgb_decode(_tensor(value).float() / 255.0)
    for axis, offset in zip((2, 3), offsets(factor), strict=True):
        linear = _tent(linear, factor, offset, axis)
    out = (srgb_encode(linear) * 255.0).round().clamp(0, 255).to(torch.uint8)
    return out.numpy() if numpy else out


def scaled_intrinsics(intrinsics, factor: int):
    """Intrinsics ``(B, 3, 3)`` of windows downscaled by ``factor``: focal lengths and principal point over ``factor``."""
    intr = np.array(intrinsics, np.float32, copy=True) if isinstance(intrinsics, np.ndarray) else intrinsics.clone()
    intr[:, :2] /= factor
    return intr


def _tent(linear: torch.Tensor, factor: int, offset: int, axis: int) -> torch.Tensor:
    """The ``factor + 1``-tap tent along ``axis``, centred on fine pixels ``factor * j + offset``."""
    size, half = linear.shape[axis], factor // 2
    # Coarse pixel j's taps are fine pixels s*j + offset - s/2 .. s*j + offset + s/2; edges repeated.
    first, last = linear.narrow(axis, 0, 1), linear.narrow(axis, size - 1, 1)
    padded = torch.cat([first] * half + [linear] + [last] * half, axis)
    count = size // factor
    out = 0.0
    for tap in range(factor + 1):
        weight = (0.5 if tap in (0, factor) else 1.0) / factor
        start = offset + tap  # (s*j + offset - half + tap) + half, in padded coordinates
        out = out + weight * padded[(slice(None),) * axis + (slice(start, start + factor * (count - 1) + 1, factor),)]
    return out


def _tensor(value) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
