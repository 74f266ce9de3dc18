"""Where the area lights show up as glare on glossy surfaces, per pixel, in numpy (no torch).

The diffuse part of an area light's light is in ``area_light`` (irradiance, which does not depend on
where the camera is). Its reflection on a glossy surface does: the bright patch a square light
leaves on a polished floor sits where the view ray, mirrored about the normal, meets the light. On
the 256² Cycles dataset, glossy pixels under an area light were 8 % of the pixels and 69 % of the
learned renderer's squared error (11.7 dB there, against 28.6 dB on rough pixels under the same
lights): without the camera's view of the light, a network cannot know where that patch goes.

Two estimates, each summed over the scene's lights (weighted by the light colour's mean, linear):

* ``lobe``: a GGX specular lobe towards the light's centre, times its irradiance, with the
  roughness widened by the light's angular size (Karis 2013, "Real Shading in Unreal Engine 4") and
  the energy kept: the smooth highlight of a rough or distant light.
* ``mirror``: the light's radiance where the mirrored view ray hits its square, the square widened
  by the roughness's footprint at that distance (a box blur, energy kept): the sharp image of a
  near-mirror reflection, with the square's edges.

Both are unshadowed radiance in linear light (the units of a pixel before the sRGB curve), 0 on
empty pixels and on surfaces facing away from the camera.
"""

from __future__ import annotations

import numpy as np

from worldsim.materials import srgb_to_linear

SPECULAR_KEYS = ("lobe", "mirror")  # the channels of ``area_specular``, in order
MIN_ALPHA = 0.02  # GGX alpha (roughness²) floor: a perfect mirror's lobe is a delta; ``mirror`` draws it


def camera_positions(extrinsics: np.ndarray) -> np.ndarray:
    """World positions of the cameras of world-to-camera ``extrinsics (..., 4, 4)``: ``-Rᵀ t``."""
    rot, trans = extrinsics[..., :3, :3], extrinsics[..., :3, 3]
    return -np.einsum("...ji,...j->...i", rot, trans)


def light_frame(position, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The square's emission direction and in-plane axes, as the Cycles teacher aims it (the light's
    -z along ``target - position``, its y as close to world up as the aim allows)."""
    forward = np.subtract(target, position).astype(np.float64)
    forward /= np.linalg.norm(forward)
    up = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.999 else np.array([0.0, 1.0, 0.0])
    y = up - up.dot(forward) * forward
    y /= np.linalg.norm(y)
    return forward, np.cross(y, -forward), y


def _fresnel(cos_view: np.ndarray, pbr: np.ndarray) -> np.ndarray:
    """Schlick's Fresnel with the Principled BSDF's F0: 0.08 × specular for a dielectric, 1 for metal."""
    roughness_metal_spec = pbr.astype(np.float32) / 255.0
    f0 = 0.08 * roughness_metal_spec[..., 2] * (1 - roughness_metal_spec[..., 1]) + roughness_metal_spec[..., 1]
    return f0 + (1 - f0) * (1 - cos_view) ** 5


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.sqrt(np.sum(v * v, axis=-1))
    return v / np.maximum(norm, 1e-9)[..., None], norm


def _lobe(light, normals, view, to_light, dist, cos_view, alpha, fresnel) -> np.ndarray:
    axis, _, _ = light_frame(light.position, light.target)
    cos_surface = np.clip(np.sum(normals * to_light, axis=-1), 0, None)
    cos_light = np.clip(-np.einsum("...k,k->...", to_light, axis), 0, None)
    irradiance = light.power * cos_surface * cos_light / (np.pi * np.maximum(dist, 1e-2) ** 2)
    wide = np.minimum(1.0, alpha + light.size / (4 * np.maximum(dist, 1e-2)))  # half-size over 2d
    half, _ = _unit(to_light + view)
    cos_half = np.clip(np.sum(normals * half, axis=-1), 0, 1)
    d = wide ** 2 / (np.pi * (cos_half ** 2 * (wide ** 2 - 1) + 1) ** 2)
    k = wide / 2
    g = cos_surface / (cos_surface * (1 - k) + k) * cos_view / (cos_view * (1 - k) + k)
    brdf = d * g * fresnel / np.maximum(4 * cos_surface * cos_view, 1e-4)
    return brdf * irradiance * (alpha / wide) ** 2


def _mirror(light, position, normals, view, cos_view, alpha, fresnel) -> np.ndarray:
    axis, x_axis, y_axis = light_frame(light.position, light.target)
    reflected = 2 * cos_view[..., None] * normals - view
    towards = np.einsum("...k,k->...", reflected, axis)  # < 0: travelling against the light's emission
    depth = np.einsum("...k,k->...", np.asarray(light.position) - position, axis)  # < 0 in front of the light
    hit = (towards < -1e-4) & (depth < 0)
    t = np.where(hit, depth / np.where(hit, towards, -1.0), 0.0)
    offset = position + t[..., None] * reflected - np.asarray(light.position)
    blur = alpha * t + 1e-3  # the lobe's footprint (half-width) on the light's plane
    half = light.size / 2
    cover = np.ones_like(t)
    for coord in (np.einsum("...k,k->...", offset, x_axis), np.einsum("...k,k->...", offset, y_axis)):
        overlap = np.minimum(half, coord + blur) - np.maximum(-half, coord - blur)
        cover *= np.clip(overlap, 0, None) / (2 * blur)
    radiance = light.power / (np.pi * light.size ** 2)
    return np.where(hit, fresnel * radiance * cover, 0.0)


def area_specular_map(spec, world_position: np.ndarray, normals: np.ndarray, pbr: np.ndarray,
                      extrinsics: np.ndarray) -> np.ndarray:
    """The area lights' specular reflections (see the module docstring), ``(T, H, W, 2)`` float32.

    Args:
        spec: the scene (its ``area_lights``).
        world_position, normals: ``(T, H, W, 3)`` maps; normals are 0 on empty pixels.
        pbr: ``(T, H, W, 3)`` uint8 roughness, metallic, specular × 255.
        extrinsics: ``(T, 4, 4)`` world-to-camera matrices, one per frame.
    """
    out = np.zeros(world_position.shape[:-1] + (len(SPECULAR_KEYS),), np.float32)
    if not spec.area_lights:
        return out
    position = world_position.astype(np.float64)
    normals = normals.astype(np.float64)
    view, _ = _unit(camera_positions(extrinsics.astype(np.float64))[:, None, None, :] - position)
    cos_view = np.sum(normals * view, axis=-1)
    seen = cos_view > 1e-3  # 0 on empty pixels (zero normals) and on surfaces edge-on or facing away
    cos_view = np.clip(cos_view, 1e-3, 1)
    alpha = np.maximum((pbr[..., 0].astype(np.float64) / 255.0) ** 2, MIN_ALPHA)
    fresnel = _fresnel(cos_view, pbr)
    for light in spec.area_lights:
        weight = float(np.mean(srgb_to_linear(light.color[:3])))
        to_light, dist = _unit(np.asarray(light.position, np.float64) - position)
        out[..., 0] += weight * _lobe(light, normals, view, to_light, dist, cos_view, alpha, fresnel)
        out[..., 1] += weight * _mirror(light, position, normals, view, cos_view, alpha, fresnel)
    return out * seen[..., None]
