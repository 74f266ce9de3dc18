"""What the learned renderer sees, as torch tensors: condition maps and global controls.

Everything the reference image depends on is given in its most direct form (see DESIGN.md):
the unlit albedo with textures, the Lambert term n·l, a specular term, the light visibility (where
the geometry blocks the sun), depth, world position, normals, a foreground mask, where one body
meets another, and material ids, plus the light as a global vector. Nothing is per object: a scene
may hold any number of bodies.

Per-pixel channels of :attr:`Conditions.maps` (``COND_CHANNELS`` = 15):
``0-2`` albedo in [-1, 1] (1, white, where no body is) · ``3-5`` world normals · ``6`` max(n·l, 0) ·
``7`` max(n·h, 0)^8 · ``8`` light visibility · ``9`` depth / 5 m · ``10-12`` world position / 2 m ·
``13`` foreground · ``14`` boundary (a 4-neighbour belongs to another body or to empty space).

A renderer of the Cycles look (``DiTConfig.pbr``) also sees what the path-traced image depends on
and TinyRenderer ignores: ``pbr`` (``PBR_CHANNELS`` = 22 per pixel: roughness, metallic, specular,
the unshadowed irradiance of the area lights in RGB, the environment maps of
:func:`environment_maps`, the area lights' glare on glossy surfaces, ``log(1 + radiance)`` of
the ``lobe`` and ``mirror`` estimates of :mod:`worldsim.conditioning.specular`, and the sky's
reflection (RGB) and ``log(1 + radiance)`` of the sun's highlight, from
:mod:`worldsim.conditioning.reflection`; then 4 of what glossy surfaces mirror of the frame itself:
the light of the pixel met by the mirrored view ray (RGB, sRGB-encoded) and whether one was met,
from :mod:`worldsim.conditioning.screen_reflection`) and ``environment``
(``ENV_DIM`` = 9: sun strength and angular size, sky flag, horizon and zenith colours times the
sky's strength). A checkpoint trained with fewer pbr channels reads the first ones it knows (its
JSON says how many).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from worldsim.conditioning.reflection import REFLECTION_CHANNELS, hemisphere_radiance, reflection_maps, world_radiance
from worldsim.conditioning.screen_reflection import mirror_maps

COND_CHANNELS = 15
ALBEDO_CHANNELS = slice(0, 3)  # of Conditions.maps
FOREGROUND_CHANNEL = 13  # of Conditions.maps
BACKGROUND_CHANNELS = slice(6, 9)  # of Conditions.pbr: the world's colour on empty pixels, sRGB [0, 1]
GLOBAL_DIM = 13  # light vector (10) + light direction in the camera frame (3)
REFLECTION_START = 14  # 3 surface + 3 area light + 3 background + 3 sky ambient + 2 area-light glare, then:
MIRROR_START = REFLECTION_START + REFLECTION_CHANNELS  # after the sun and sky reflections:
MIRROR_CHANNELS = 4  # what the mirrored view ray meets on screen (RGB) and whether it meets anything
PBR_CHANNELS = MIRROR_START + MIRROR_CHANNELS
ENV_DIM = 9


@dataclass
class Conditions:
    """A batch of conditions for clips of ``T`` frames."""

    maps: torch.Tensor  # (B, T, C, H, W) float
    material: torch.Tensor  # (B, T, H, W) long, 0 empty
    global_: torch.Tensor  # (B, GLOBAL_DIM)
    context: torch.Tensor | None = None  # (B, 3K, H, W) in [-1, 1]: the K frames before this window, oldest first
    has_context: torch.Tensor | None = None  # (B,) float 0/1
    pbr: torch.Tensor | None = None  # (B, T, PBR_CHANNELS, H, W), for a Cycles-look model
    environment: torch.Tensor | None = None  # (B, ENV_DIM), for a Cycles-look model

    def to(self, device: torch.device | str) -> "Conditions":
        """Move every tensor to ``device``."""
        return Conditions(**{f.name: (getattr(self, f.name).to(device) if getattr(self, f.name) is not None else None)
                             for f in fields(self)})


def random_conditions(config, batch: int, size: int | tuple[int, int], device: torch.device | str = "cpu",
                      seed: int = 0) -> Conditions:
    """Random conditions of the shapes ``config`` (a :class:`~worldsim.model.DiTConfig`) reads, for
    ``batch`` windows of ``size`` pixels (``S`` for S², or ``(H, W)``), made on ``device``: inputs for
    timing a model or counting its FLOPs, not for rendering; fast at any batch, unlike building them
    from arrays."""
    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(seed)
    t, k = config.frames, 3 * config.context_frames
    h, w = (size, size) if isinstance(size, int) else size

    def rand(*shape):
        return torch.rand(shape, generator=gen, device=device)
    return Conditions(maps=rand(batch, t, config.cond_channels, h, w) * 2 - 1,
                      material=torch.randint(0, config.num_materials, (batch, t, h, w), generator=gen, device=device),
                      global_=rand(batch, config.global_dim), context=rand(batch, k, h, w) * 2 - 1,
                      has_context=torch.ones(batch, device=device), pbr=rand(batch, t, config.pbr_channels, h, w),
                      environment=rand(batch, config.env_dim))


def as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``x`` as a ``dtype`` tensor, in at most one copy.

    A numpy array is converted in numpy (one copy to change dtype, none when it already is
    ``dtype``, contiguous and writable). A read-only one, such as a memory-mapped dataset's, is
    copied: ``torch.from_numpy`` warns on it, and writing through the tensor would be undefined.
    """
    if isinstance(x, torch.Tensor):
        return x.to(dtype)
    array = np.ascontiguousarray(x, dtype=torch.empty(0, dtype=dtype).numpy().dtype)
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def build_conditions(batch: dict[str, np.ndarray | torch.Tensor], pbr: bool = True,
                     pbr_channels: int | None = None) -> Conditions:
    """Conditions from shard-style arrays with a leading batch axis.

    The maps are laid out channels last in memory (``maps`` and ``pbr`` are ``(B,T,C,H,W)`` views of
    it): the model reads them channels last, so no copy is made to go there and back.

    Args:
        batch: ``albedo (B,T,H,W,3) uint8``, ``normals``/``world_position (B,T,H,W,3)``,
            ``depth``/``light_visibility``/``segmentation``/``material (B,T,H,W)``,
            ``extrinsics (B,T,4,4)``, ``light (B,10)``; for the Cycles look also ``pbr``, ``area_light``
            and ``environment`` (see :mod:`worldsim.conditioning.arrays`), and ``mirror``
            (:func:`~worldsim.conditioning.screen_reflection.mirror_radiance`) if it was computed on
            whole frames before a crop; without it, it is computed from the batch, which must then
            hold whole frames.
        pbr: build the Cycles look's conditions when the batch has them; False skips them (a
            raster-look model does not read them, and they were half the cost of a 64² env frame).
        pbr_channels: how many pbr channels the model reads (default: all): a checkpoint that reads
            none of the reflections does not pay for them (about 10 ms per 256² frame on a CPU core).
    """
    seg = as_tensor(batch["segmentation"], torch.long)
    foreground = seg >= 0
    fg = foreground.float()
    # Empty pixels read white whichever pass drew the maps: TinyRenderer's maps are white there (what
    # the shipped checkpoints learned from), the raster pass's black, and a sky-heavy frame drawn from
    # black lost 1.9 dB against Cycles (benchmarks/results/look.json, its middle row).
    albedo = torch.where(foreground[..., None], as_tensor(batch["albedo"]) / 127.5 - 1.0, 1.0)  # (B, T, H, W, 3)
    normals = as_tensor(batch["normals"])
    pos = as_tensor(batch["world_position"])
    depth = as_tensor(batch["depth"])
    visibility = as_tensor(batch["light_visibility"])
    light = as_tensor(batch["light"])  # (B, 10)
    extr = as_tensor(batch["extrinsics"])  # (B, T, 4, 4)
    l_dir = light[:, None, None, None, :3]  # (B, 1, 1, 1, 3) towards the light
    cam_pos = -torch.einsum("btji,btj->bti", extr[..., :3, :3], extr[..., :3, 3])  # (B, T, 3) = -R^T t
    view = cam_pos[:, :, None, None, :] - pos
    view = view / view.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    half = l_dir + view
    half = half / half.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    lambert = (normals * l_dir).sum(-1).clamp_min(0) * fg
    specular = (normals * half).sum(-1).clamp_min(0).pow(8) * fg
    maps = torch.cat([
        albedo, normals, lambert[..., None], specular[..., None], visibility[..., None],
        (depth / 5.0)[..., None], (pos / 2.0).clamp(-4, 4), fg[..., None], boundary(seg)[..., None],
    ], dim=-1).permute(0, 1, 4, 2, 3)  # (B, T, C, H, W)
    light_cam = torch.einsum("bij,bj->bi", extr[:, 0, :3, :3], light[:, :3])  # (B, 3) in the camera frame
    surfaces = environment = None
    if pbr and "pbr" in batch and "area_light" in batch and "environment" in batch:
        environment = as_tensor(batch["environment"])
        materials = as_tensor(batch["pbr"]) / 255.0
        surface = torch.cat([materials, (as_tensor(batch["area_light"]) / 10.0).clamp(0, 4)], dim=-1) * fg[..., None]
        background, ambient = environment_maps(environment, as_tensor(batch["intrinsics"]), extr, normals, fg)
        glare = torch.log1p(as_tensor(batch["area_specular"]).clamp_min(0))  # radiance spans 0 to ~100: compressed
        parts = [surface, background, ambient, glare]
        if pbr_channels is None or pbr_channels > REFLECTION_START:
            reflected = reflection_maps(normals, view, materials, light, environment, visibility, fg, ambient)
            parts += [reflected[..., :3].clamp(0, 4), torch.log1p(reflected[..., 3:])]  # the sun's spans 0 to ~1000
        if pbr_channels is None or pbr_channels > MIRROR_START:
            parts += mirror_channels(batch)
        surfaces = torch.cat(parts, dim=-1).permute(0, 1, 4, 2, 3)
    return Conditions(
        maps=maps, material=as_tensor(batch["material"], torch.long),
        global_=torch.cat([light, light_cam], dim=-1), pbr=surfaces, environment=environment,
    )


def mirror_channels(batch: dict) -> list[torch.Tensor]:
    """The pbr channels of what each glossy pixel mirrors of the frame: the light of the pixel its
    mirrored view ray meets, sRGB-encoded (RGB in [0, 1], as the frame would show it: a glossy
    dielectric adds a few per cent of it, so the network scales it by what it knows of the surface),
    and 1 where it meets one. ``batch["mirror"]`` if it holds it (worked out on whole frames before a
    crop), else worked out from the batch."""
    mirror = as_tensor(batch["mirror"]) if "mirror" in batch else mirror_maps(batch)
    met = (mirror[..., :1] >= 0).float()  # never on an empty pixel: mirror_radiance gives it −1
    return [srgb_encode(mirror.clamp_min(0)) * met, met]


def srgb_encode(linear: torch.Tensor) -> torch.Tensor:
    """Linear [0, 1] → sRGB-encoded [0, 1] (the standard piecewise curve; Blender's "Standard" view)."""
    x = linear.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def srgb_decode(encoded: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded [0, 1] → linear (the inverse of :func:`srgb_encode` on [0, 1])."""
    x = encoded.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


SRGB_SLOPE_AT_WHITE = 1.055 / 2.4  # d(sRGB)/d(linear) at linear 1


def srgb_encode_unclipped(linear: torch.Tensor) -> torch.Tensor:
    """:func:`srgb_encode` continued past [0, 1] by straight lines (slope 12.92 below 0, the curve's
    slope at white above 1): monotonic and never flat, so a network whose output passes through it
    still gets a gradient where it overshoots. Equal to :func:`srgb_encode` on [0, 1]."""
    curve = 1.055 * linear.clamp(0.0031308, 1.0) ** (1 / 2.4) - 0.055
    above = 1.0 + SRGB_SLOPE_AT_WHITE * (linear - 1.0)
    return torch.where(linear <= 0.0031308, 12.92 * linear, torch.where(linear <= 1.0, curve, above))


def environment_maps(environment: torch.Tensor, intrinsics: torch.Tensor, extrinsics: torch.Tensor,
                     normals: torch.Tensor, fg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the sky or uniform background contributes at each pixel, in the form the image shows it.

    Cycles draws the world as the horizon colour (uniform) or a blend from horizon to zenith by the
    view direction's height (sky), times its strength. A model given only the global environment
    vector has to learn that mapping for every pixel from the few environments a dataset holds; here
    it is computed exactly, so the model only learns how the picture departs from it.

    Args:
        environment: ``(B, ENV_DIM)`` (:func:`worldsim.conditioning.arrays.environment_vector`).
        intrinsics: ``(B, 3, 3)`` (crops already applied); extrinsics ``(B, T, 4, 4)`` world → camera.
        normals: ``(B, T, H, W, 3)`` world normals; fg ``(B, T, H, W)`` 1 where a body is seen.

    Returns:
        ``background (B, T, H, W, 3)``: the world's colour seen along each empty pixel's ray,
        sRGB-encoded in [0, 1] (0 on bodies); ``ambient (B, T, H, W, 3)``: linear radiance of the
        world averaged over the hemisphere around each body pixel's normal (0 where empty), with the
        sky's zenith weight approximated as (1 + n_z)² / 6 (2/3 facing up, 0 facing down).
    """
    b, t, h, w = fg.shape
    u = torch.arange(w, dtype=normals.dtype) + 0.5
    v = torch.arange(h, dtype=normals.dtype) + 0.5
    fx, fy = intrinsics[:, 0, 0].reshape(b, 1, 1), intrinsics[:, 1, 1].reshape(b, 1, 1)
    cx, cy = intrinsics[:, 0, 2].reshape(b, 1, 1), intrinsics[:, 1, 2].reshape(b, 1, 1)
    x = ((u[None, None, :] - cx) / fx).expand(b, h, w)
    y = ((v[None, :, None] - cy) / fy).expand(b, h, w)
    rays = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # (B, H, W, 3) camera frame
    # World direction R^T d: only its height matters, so one row of R^T (the third column of R).
    height = torch.einsum("bhwk,btk->bthw", rays, extrinsics[..., :3, 2]) / rays.norm(dim=-1)[:, None]
    background = srgb_encode(world_radiance(environment, height.clamp(0, 1))) * (1 - fg)[..., None]
    ambient = hemisphere_radiance(environment, normals) * fg[..., None]
    return background, ambient


def boundary(seg: torch.Tensor) -> torch.Tensor:
    """1.0 where a pixel's right, left, upper or lower neighbour shows another body (or empty space),
    ``(..., H, W)`` → same shape. The image's edge counts as no neighbour."""
    out = torch.zeros(seg.shape, dtype=torch.bool, device=seg.device)
    out[..., :, 1:] |= seg[..., :, 1:] != seg[..., :, :-1]
    out[..., :, :-1] |= seg[..., :, :-1] != seg[..., :, 1:]
    out[..., 1:, :] |= seg[..., 1:, :] != seg[..., :-1, :]
    out[..., :-1, :] |= seg[..., :-1, :] != seg[..., 1:, :]
    return out.float()


def context_to_model(frames: np.ndarray) -> torch.Tensor:
    """Context frames ``uint8 (B,H,W,3)`` (one) or ``(B,K,H,W,3)`` (K, oldest first) → ``(B,3K,H,W)`` in [-1, 1]."""
    x = as_tensor(frames)
    if x.dim() == 4:
        x = x[:, None]
    b, k, h, w, _ = x.shape
    return (x / 127.5 - 1.0).permute(0, 1, 4, 2, 3).reshape(b, 3 * k, h, w).contiguous()


def frames_to_model(rgb: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``uint8 (B,T,H,W,3)`` → ``float (B,T,3,H,W)`` in [-1, 1]."""
    return (as_tensor(rgb) / 127.5 - 1.0).permute(0, 1, 4, 2, 3).contiguous()


def model_to_frames(x: torch.Tensor) -> np.ndarray:
    """``float (B,T,3,H,W)`` in [-1, 1] → ``uint8 (B,T,H,W,3)``."""
    x = ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 1, 3, 4, 2).cpu().numpy()
