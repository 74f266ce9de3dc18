"""Windows of stored frames shown at a coarser scale: what a camera of ``1/s`` the resolution would see.

Training draws its windows from 256² frames; the model must also render 64² and 128² frames, where a
body covers 4-16× fewer pixels. A window downscaled by ``s`` shows the model that scale without a
second dataset. Each kind of array is downscaled the way the render path makes it at that resolution:

- **condition maps** are point samples (the map pass rasterizes pixel centres), so they are sampled,
  never averaged: an averaged segmentation or normal is a value no rasterizer produces. Coarse pixel
  ``j`` takes fine pixel ``s*j + s/2``;
- **frames** (``rgb``, ``context``: sRGB uint8) are what the path tracer's pixel filter integrates, so
  they are averaged in linear light with the tent ``[1/2, 1, …, 1, 1/2] / s`` of ``s + 1`` taps,
  centred on the very fine pixel the maps sample (edges repeated); for ``s = 2`` that is ``[1, 2, 1] / 4``;
- **intrinsics** follow: ``f / s``, and the principal point moves so that the coarse pixel centre
  ``j + 1/2`` is the sampled fine pixel's centre: ``c' = (c - 1/2) / s``.

Works on numpy arrays and on torch tensors alike (the CPU and the device window paths give the same
values); torch is imported only for tensors.
"""

from __future__ import annotations

import numpy as np

from worldsim.materials import srgb_to_linear

FRAME_KEYS = ("rgb", "context")  # filtered as light; every other pixel array is a point-sampled map
_LINEAR = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)


def check_factor(factor: int) -> None:
    """Refuse a factor the sampling above cannot centre (odd) or that does nothing (1)."""
    if factor < 2 or factor % 2:
        raise ValueError(f"a downscale factor is an even number of fine pixels per coarse pixel, 2 or more; got {factor}")


def sample_map(value, factor: int):
    """Point-sample a map ``(..., H, W[, C])`` with pixel axes at 2 and 3 (rows of (B, T) frames)."""
    half = factor // 2
    return value[:, :, half::factor, half::factor]


def filter_frames(value, factor: int):
    """sRGB uint8 frames ``(B, T, H, W, 3)`` to ``(B, T, H/s, W/s, 3)``: the tent filter in linear light."""
    torch = _torch(value)
    lut = _LINEAR if torch is None else torch.as_tensor(_LINEAR, device=value.device)
    linear = lut[value.long() if torch is not None else value]
    for axis in (2, 3):
        linear = _tent(linear, factor, axis, torch)
    encoded = _encode(linear, torch)
    if torch is None:
        return np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)
    return (encoded * 255.0).round().clamp(0, 255).to(torch.uint8)


def scaled_intrinsics(intrinsics, factor: int):
    """Intrinsics ``(B, 3, 3)`` of windows downscaled by ``factor`` (see the module's note)."""
    intr = intrinsics.clone() if _torch(intrinsics) is not None else np.array(intrinsics, np.float32, copy=True)
    intr[:, :2, :2] /= factor
    intr[:, :2, 2] = (intr[:, :2, 2] - 0.5) / factor
    return intr


def _tent(linear, factor: int, axis: int, torch):
    """The ``factor + 1``-tap tent along ``axis``, centred on every ``factor``-th pixel from ``factor/2``."""
    size = linear.shape[axis]
    cat = np.concatenate if torch is None else torch.cat
    # Coarse pixel j's taps are fine pixels s*j .. s*j + s; the last one's last tap is one past the edge.
    padded = cat([linear, _take(linear, slice(size - 1, size), axis)], axis)
    count = size // factor
    out = 0.0
    for tap in range(factor + 1):
        weight = (0.5 if tap in (0, factor) else 1.0) / factor
        out = out + weight * _take(padded, slice(tap, tap + factor * count, factor), axis)
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
