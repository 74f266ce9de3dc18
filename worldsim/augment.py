"""Symmetries of the teachers, used to widen what training sees: colour-channel permutation (exact),
and (further down) a per-channel gain on every light (exact up to Cycles' sampling noise).

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

The colour inputs are the per-pixel ``rgb``, ``albedo``, ``area_light``, ``context`` and ``mirror``
arrays (last axis; ``mirror``'s "met nothing" is −1 in every channel, which a swap keeps), the
light's colour (``light[3:6]``) and the world's horizon and zenith colours (``environment[3:6]``,
``environment[6:9]``). Everything else is colourless: geometry, the
roughness/metallic/specular maps, and the glare maps (weighted by each light colour's mean).
"""

from __future__ import annotations

import numpy as np
import torch

ORDERS = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])  # the identity first
IMAGE_KEYS = ("rgb", "albedo", "area_light", "context", "mirror")  # (B, ..., 3)
VECTOR_COLOURS = {"light": (3,), "environment": (3, 6)}  # (B, D): where each colour triple starts


def draw_orders(rng: np.random.Generator, batch: int, fraction: float) -> np.ndarray:
    """``(batch, 3)`` channel orders: a random non-identity one for about ``fraction`` of the rows,
    the identity for the rest."""
    swap = rng.uniform(size=batch) < fraction
    return np.where(swap[:, None], ORDERS[rng.integers(1, len(ORDERS), size=batch)], ORDERS[0])


def _rows(per_row, ndim: int):
    """``(B, D)`` → ``(B, 1, ..., D)``, broadcasting row by row against an array of ``ndim`` dimensions
    (numpy or torch)."""
    return per_row.reshape(per_row.shape[:1] + (1,) * (ndim - 2) + per_row.shape[-1:])


def _take(value, index: np.ndarray):
    """``value (B, ..., D)`` with row b's last axis reordered by ``index[b]`` (``(B, D)``); numpy or torch."""
    if isinstance(value, torch.Tensor):
        return torch.gather(value, -1, _rows(torch.as_tensor(index, device=value.device), value.ndim).expand(value.shape))
    return np.take_along_axis(value, _rows(index, value.ndim), axis=-1)


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


# Light gain ---------------------------------------------------------------------------------------
# Light transport is linear in the emitters, channel by channel: a scene whose every emitter (the sun,
# the sky, the area lights) has its linear RGB multiplied by gains (gR, gG, gB) renders as the same
# multiple of its linear picture. Cycles' "Standard" view then clips at 1 and sRGB-encodes, so the
# stored frame is encode(min(g · linear, 1)), which the stored frame gives wherever a gain is at
# least 1 (a clipped pixel stays clipped) and where nothing clipped. A channel clipped at white in a
# window is therefore only ever brightened. Cycles' own render of the gained scene is not the same
# bit for bit (its light tree picks lights by power, so the samples move), but closer to the scaled
# picture than two seeds of one scene are to each other (tests/test_augment.py renders both).
GAIN_SPREAD = 0.3  # log gains are uniform in ±this: 0.74× to 1.35× per channel
CLIPPED_SHARE = 1e-3  # a channel with more of a window's values at 255 than this is only brightened
FRAME_KEYS = ("rgb", "context")  # sRGB codes: decoded, scaled and encoded again


def draw_gains(rng: np.random.Generator, batch: int, fraction: float, spread: float = GAIN_SPREAD) -> np.ndarray:
    """``(batch, 3) float32`` per-channel light gains: ``exp(U(−spread, spread))`` for about ``fraction``
    of the rows, ones for the rest."""
    pick = rng.uniform(size=batch) < fraction
    gains = np.exp(rng.uniform(-spread, spread, size=(batch, 3)))
    return np.where(pick[:, None], gains, 1.0).astype(np.float32)


def _clipped(frames: list[torch.Tensor]) -> torch.Tensor:
    """``(B, 3)`` True where a row's channel has more than :data:`CLIPPED_SHARE` of its values at 255."""
    counts = sum((f.reshape(f.shape[0], -1, 3) >= 255).float().sum(1) for f in frames)
    total = sum(f[0].numel() // 3 for f in frames)
    return counts / total > CLIPPED_SHARE


def scale_light(batch: dict, gains: np.ndarray) -> dict:
    """The batch as the picture of the same scene with every emitter's linear RGB times ``gains (B, 3)``
    (see above); a new dict. Numpy arrays in, numpy out; tensors in, tensors out (on their device).

    * ``rgb`` and ``context`` (sRGB codes): decoded, scaled, clipped and encoded again, as float32
      codes in [0, 255] (no second rounding); channels clipped in the row's frames are only brightened;
    * ``area_light`` (linear irradiance × colour): scaled;
    * ``area_specular`` (the area lights' glare, weighted by each light's mean colour): scaled by the
      ratio of the scaled to the unscaled area-light irradiance's channel sum at the pixel, which is
      exact for one area light (or several of one colour) and a weighted mean otherwise;
    * ``light[3:6]`` (the sun's sRGB colour) and ``environment[0]`` (its strength): the colour takes the
      gains, then is scaled back to its former brightest channel while the strength takes that factor;
    * ``environment[3:9]`` (horizon and zenith, linear × strength): scaled;
    * ``mirror`` (the light of the pixel a mirrored ray meets, linear in every emitter): scaled where
      a ray met one (−1 elsewhere).

    Albedo, geometry and materials are unchanged: the surfaces are the same, only the light differs.
    """
    from worldsim.conditioning.tensors import srgb_decode, srgb_encode  # builds on torch only

    numpy = not isinstance(batch["rgb"], torch.Tensor)
    tensors = {k: (torch.from_numpy(np.asarray(v)) if numpy else v) for k, v in batch.items()}
    device = tensors["rgb"].device
    g = torch.as_tensor(gains, dtype=torch.float32, device=device)
    frames = [key for key in FRAME_KEYS if key in tensors]
    g = torch.where(_clipped([tensors[key] for key in frames]), g.clamp_min(1.0), g)
    out = dict(tensors)
    for key in frames:
        codes = out[key].float()
        gain = _rows(g, codes.dim())
        scaled = srgb_decode(codes / 255) * gain
        # White stays exactly 255 (the sRGB round trip gives 254.99998): the clipped loss knows a
        # clipped target by it, and a pixel at 255 that is not darkened is clipped still.
        white = (scaled >= 1) | ((codes >= 255) & (gain >= 1))
        out[key] = torch.where(white, 255.0, srgb_encode(scaled) * 255)
    if "area_light" in out:
        area = out["area_light"].float()
        scaled = area * _rows(g, area.dim())
        out["area_light"] = scaled.to(out["area_light"].dtype)
        if "area_specular" in out:
            before, after = area.sum(-1, keepdim=True), scaled.sum(-1, keepdim=True)
            unlit = _rows(g.mean(-1, keepdim=True), area.dim())  # no irradiance to weigh by: the mean gain
            ratio = torch.where(before > 0, after / before.clamp_min(1e-12), unlit)
            out["area_specular"] = (out["area_specular"].float() * ratio).to(out["area_specular"].dtype)
    if "mirror" in out:
        mirror = out["mirror"].float()
        scaled = torch.where(mirror >= 0, mirror * _rows(g, mirror.dim()), mirror)
        out["mirror"] = scaled.to(out["mirror"].dtype)
    if "light" in out and "environment" in out:
        light, env = out["light"].clone(), out["environment"].clone()
        sun = srgb_decode(light[:, 3:6])
        peak = sun.amax(-1, keepdim=True)
        tinted = sun * g
        factor = torch.where(peak > 0, tinted.amax(-1, keepdim=True) / peak.clamp_min(1e-12), torch.ones_like(peak))
        light[:, 3:6] = srgb_encode(tinted / factor)
        env[:, :1] = env[:, :1] * factor
        env[:, 3:6], env[:, 6:9] = env[:, 3:6] * g, env[:, 6:9] * g
        out["light"], out["environment"] = light, env
    return {k: (v.numpy() if numpy else v) for k, v in out.items()}
