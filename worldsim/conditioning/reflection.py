"""What glossy surfaces reflect of the sun and the sky, per pixel, in torch.

The error breakdown of ``worldsim eval`` (8 clips at 256², the default of change 8) put 37 % of the
pixels and 47 % of the squared error on glossy surfaces lit by the sun and the sky alone, and a
further 22 % of the pixels and 25 % of the error on metals: more than on anything else. What such a
pixel shows depends on where the camera is, through the reflected view ray, and the renderer was
given that only as a fixed Blinn-Phong term (n·h)⁸ that ignores the roughness, the sun's size and
strength, and the sky. Two estimates, both in linear radiance (a pixel before the sRGB curve):

* ``sky``: the world's colour along the mirrored view ray (the horizon-to-zenith blend Cycles draws,
  :func:`world_radiance`), blended towards the hemisphere's mean as
  the roughness grows, times Schlick's Fresnel with the Principled BSDF's F0 (RGB);
* ``sun``: the sun's GGX highlight, the roughness widened by the sun's angular size (Karis 2013),
  which spreads it and keeps its energy, times its irradiance, the Fresnel term and the light visibility (one
  channel).

What the reflected ray really meets (another body, the floor) is left to the network: the maps are
the unoccluded world, like ``area_specular``. Both come from arrays every shard already holds, so
adding them needs no new data.
"""

from __future__ import annotations

import torch

MIN_ALPHA = 0.02  # GGX alpha floor, as in worldsim.conditioning.specular: a perfect mirror's lobe is a delta
REFLECTION_CHANNELS = 4  # sky reflection RGB, sun highlight


def world_radiance(environment: torch.Tensor, height: torch.Tensor) -> torch.Tensor:
    """The world's linear radiance along directions of ``height`` (their z, or a weight standing in
    for it), ``(B, ...)`` → ``(B, ..., 3)``: the horizon colour, blended towards the zenith's by the
    height where the world is a sky (Cycles' gradient), uniform where it is not.

    Args:
        environment: ``(B, ENV_DIM)`` (:func:`worldsim.conditioning.arrays.environment_vector`).
        height: ``(B, ...)``, clamped by the caller as its use needs.
    """
    shape = (environment.shape[0],) + (1,) * (height.dim() - 1) + (3,)
    horizon, zenith = environment[:, 3:6].reshape(shape), environment[:, 6:9].reshape(shape)
    sky = environment[:, 2].reshape(shape[:-1] + (1,))  # 0 or 1: the order of the products below is exact
    return horizon + (zenith - horizon) * sky * height[..., None]


def hemisphere_radiance(environment: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """The world's mean linear radiance over the hemisphere around each normal, ``(B, ..., 3)``, with
    the sky's zenith weight approximated as (1 + n_z)² / 6 (2/3 facing up, 0 facing down), clamped to
    [0, 4]; ``normals`` is ``(B, ..., 3)``."""
    return world_radiance(environment, (1 + normals[..., 2]) ** 2 / 6).clamp(0, 4)


def fresnel(cos_view: torch.Tensor, metallic: torch.Tensor, specular: torch.Tensor) -> torch.Tensor:
    """Schlick's Fresnel with the Principled BSDF's F0: 0.08 × specular for a dielectric, 1 for a metal."""
    f0 = 0.08 * specular * (1 - metallic) + metallic
    return f0 + (1 - f0) * (1 - cos_view).clamp(0, 1) ** 5


def ggx_highlight(cos_light: torch.Tensor, cos_view: torch.Tensor, light_dot_view: torch.Tensor, alpha: torch.Tensor,
                  half_angle: torch.Tensor) -> torch.Tensor:
    """The specular BRDF × cos θ of a distant light of angular radius ``half_angle`` (radians), GGX with
    Smith-Schlick shadowing, the Fresnel term left out, per unit irradiance; from the cosines n·l,
    n·v and l·v (the half-vector's n·h follows from them: no vector is formed)."""
    cos_light = cos_light.clamp_min(0)
    wide = (alpha + torch.tan(half_angle) / 2).clamp(max=1)  # Karis: alpha + radius / (2 distance)
    cos_half = ((cos_light + cos_view) * torch.rsqrt((2 + 2 * light_dot_view).clamp_min(1e-6))).clamp(0, 1)
    w2 = wide * wide
    d = w2 / (torch.pi * (cos_half * cos_half * (w2 - 1) + 1) ** 2)
    k = wide / 2
    g = cos_light / (cos_light * (1 - k) + k) / (cos_view * (1 - k) + k)  # the cos_v of G cancels 1 / cos_v
    # D G / (4 cos_l cos_v) × cos_l. The widened D still integrates to 1 over the half-vectors, so
    # the highlight spreads without gaining or losing energy: a lobe aimed at the light's centre,
    # not Karis's representative point, needs no (alpha / wide)² normalisation.
    return d * g / 4


def reflection_maps(normals: torch.Tensor, view: torch.Tensor, pbr: torch.Tensor, light: torch.Tensor,
                    environment: torch.Tensor, visibility: torch.Tensor, fg: torch.Tensor,
                    ambient: torch.Tensor) -> torch.Tensor:
    """The sky's and the sun's reflections (see the module docstring), ``(B, T, H, W, 4)``.

    Args:
        normals: ``(B, T, H, W, 3)`` world normals; view ``(B, T, H, W, 3)`` unit vectors to the camera.
        pbr: ``(B, T, H, W, 3)`` roughness, metallic, specular in [0, 1].
        light: ``(B, 10)`` (:func:`worldsim.conditioning.arrays.light_vector`: direction towards the
            sun, its sRGB colour, ...); environment ``(B, 9)`` (sun strength / 5, angle / 10°, sky
            flag, horizon and zenith colours; :func:`~worldsim.conditioning.arrays.environment_vector`).
        visibility: ``(B, T, H, W)`` 1 where the sun is not blocked; fg ``(B, T, H, W)`` 1 on bodies.
        ambient: ``(B, T, H, W, 3)`` the world's mean radiance over each normal's hemisphere
            (:func:`~worldsim.conditioning.tensors.environment_maps`).

    Returns:
        Channels 0–2: the Fresnel-weighted sky along the mirrored view ray, linear RGB; channel 3:
        the sun's highlight, linear radiance (weighted by its colour's mean). 0 on empty pixels.
    """
    from worldsim.conditioning.tensors import srgb_decode  # that module builds on this one

    b = light.shape[0]
    roughness, metallic, specular = pbr.unbind(-1)
    to_sun = light[:, None, None, None, :3]
    cos_view = (normals * view).sum(-1).clamp(1e-3, 1)
    f = fresnel(cos_view, metallic, specular) * fg
    # Only the mirrored ray's height matters to the sky: r_z = 2 (n·v) n_z − v_z.
    rise = (2 * cos_view * normals[..., 2] - view[..., 2]).clamp(0, 1)
    sharp = world_radiance(environment, rise)
    rough = roughness[..., None]
    sky = f[..., None] * (sharp + (ambient - sharp) * rough)
    strength = (environment[:, 0] * 5 * srgb_decode(light[:, 3:6]).mean(-1)).reshape(b, 1, 1, 1)
    half_angle = torch.deg2rad(environment[:, 1] * 10 / 2).reshape(b, 1, 1, 1)
    alpha = (roughness * roughness).clamp_min(MIN_ALPHA)
    highlight = ggx_highlight((normals * to_sun).sum(-1), cos_view, (view * to_sun).sum(-1), alpha, half_angle)
    sun = highlight * f * strength * visibility
    return torch.cat([sky, sun[..., None]], dim=-1)
