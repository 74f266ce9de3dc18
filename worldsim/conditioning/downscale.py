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

Works on numpy arrays and on torch tensors alike (the CPU and the device window paths give the same
values); torch is imported only for tensors.
"""

from __future__ import annotations

import numpy as np

from worldsim.materials import srgb_to_linear

FRAME_KEYS = ("rgb", "context")  # filtered as light; every other pixel array is a point-sampled map
SAMPLE = (0.0, 1.0)  # where the map pass samples a pixel, (x right, y down) in pixels: teacher.maps.TINY_SAMPLE
_LINEAR = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)


def check_factor(factor: int) -> None:
    """Refuse a factor the sampling above cannot centre (odd) or that does nothing (1)."""
    if factor < 2 or factor % 2:
        raise ValueError(f"a downscale factor is an even number of fine pixels per coarse pixel, 2 or more; got {factor}")


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
    torch = _torch(depth)
    xp = np if torch is None else torch
    height, width = depth.shape[2:]
    if torch is None:
        v, u = np.meshgrid(np.arange(height, dtype=np.float32) + 0.5, np.arange(width, dtype=np.float32) + 0.5,
                           indexing="ij")
        d = depth.astype(np.float32)
    else:
        centres = (torch.arange(height, device=depth.device) + 0.5, torch.arange(width, device=depth.device) + 0.5)
        v, u = torch.meshgrid(*centres, indexing="ij")
        d = depth.float()
    k = intrinsics[:, None, None, None]  # (B, 1, 1, 1, 3, 3)
    x = (u - k[..., 0, 2]) / k[..., 0, 0] * d
    y = (v - k[..., 1, 2]) / k[..., 1, 1] * d
    cam = xp.stack([x, y, d], -1) - extrinsics[:, :, None, None, :3, 3]
    rot = extrinsics[:, :, None, None, :3, :3]
    # R^T (p - t), one elementwise product at a time: numpy and torch then agree to the bit (einsum's sums do not)
    world = cam[..., 0:1] * rot[..., 0, :] + cam[..., 1:2] * rot[..., 1, :] + cam[..., 2:3] * rot[..., 2, :]
    world = xp.where((segmentation >= 0)[..., None], world, 0.0)
    return world.astype(np.float16) if torch is None else world.to(torch.float16)


def filter_frames(value, factor: int):
    """sRGB uint8 frames ``(B, T, H, W, 3)`` to ``(B, T, H/s, W/s, 3)``: the tent filter in linear light."""
    torch = _torch(value)
    lut = _LINEAR if torch is None else torch.as_tensor(_LINEAR, device=value.device)
    linear = lut[value.long() if torch is not None else value]
    for axis, offset in zip((2, 3), offsets(factor), strict=True):
        linear = _tent(linear, factor, offset, axis, torch)
    encoded = _encode(linear, torch)
    if torch is None:
        return np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)
    return (encoded * 255.0).round().clamp(0, 255).to(torch.uint8)


def scaled_intrinsics(intrinsics, factor: int):
    """Intrinsics ``(B, 3, 3)`` of windows downscaled by ``factor``: focal lengths and principal point over ``factor``."""
    intr = intrinsics.clone() if _torch(intrinsics) is not None else np.array(intrinsics, np.float32, copy=True)
    intr[:, :2] /= factor
    return intr


def _tent(linear, factor: int, offset: int, axis: int, torch):
    """The ``factor + 1``-tap tent along ``axis``, centred on fine pixels ``factor * j + offset``."""
    size, half = linear.shape[axis], factor // 2
    cat = np.concatenate if torch is None else torch.cat
    # Coarse pixel j's taps are fine pixels s*j + offset - s/2 .. s*j + offset + s/2; edges repeated.
    first, last = _take(linear, slice(0, 1), axis), _take(linear, slice(size - 1, size), axis)
    padded = cat([first] * half + [linear] + [last] * half, axis)
    count = size // factor
    out = 0.0
    for tap in range(factor + 1):
        weight = (0.5 if tap in (0, factor) else 1.0) / factor
        start = offset + tap  # (s*j + offset - half + tap) + half, in padded coordinates
        out = out + weight * _take(padded, slice(start, start + factor * (count - 1) + 1, factor), axis)
    return out


def _take(value, index: slice, axis: int):
    return value[(slice(None),) * axis + (index,)]


def _encode(linear, torch):
    """Linear light (0-1) to sRGB (0-1)."""
    if torch is None:
        linear = np.clip(linear, 0.0, 1.0)
        return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    linear = linear.clamp(0.0, 1.0)
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def _torch(value):
    """The torch module when ``value`` is a tensor, else None (numpy)."""
    if isinstance(value, np.ndarray):
        return None
    import torch

    return torch
