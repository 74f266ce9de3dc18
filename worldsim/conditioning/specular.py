"""Where the area lights show up as glare on glossy surfaces, per pixel, in numpy (no torch).

The diffuse part of an area light's light is in ``area_light`` (irradiance, which does not depend on
where the camera is). Its reflection on a glossy surface does: the bright patch a square light
leaves on a polished floor sits where the view ray, mirrored about the normal, meets the light. On
the 256² Cycles dataset, glossy pixels under an area light were 8 % of the pixels and 69 % of the
learned renderer's squared error (11.7 dB there, against 28.6 dB on rough pixels under the same
lights): without the camera's view of the light, a network cannot know where that patch goes.

Two estimates, each summed over the scene's lights (weighted by the light colour's mean, linear):

* ``lobe``: a GGX specular lobe towards the light's centre, times its irradiance, with the
  roughness widened by the light's angular size (Karis 2013, "Real Shading in Unreal Engine 4"):
  the smooth highlight of a rough or distant light. It is also scaled by Karis's (α / α')², which
  belongs to his representative-point lobe: aimed at the centre, the widened lobe already keeps the
  energy, so this one is dimmer than the light's reflection by that factor near large lights. It
  stays so because the shipped checkpoint learned from it (``reflection``'s sun highlight has no
  such factor).
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
    metallic, specular = pbr[:, 1] / np.float32(255), pbr[:, 2] / np.float32(255)
    f0 = 0.08 * specular * (1 - metallic) + metallic
    return f0 + (1 - f0) * (1 - cos_view) ** 5


def _dot(a: np.ndarray, b) -> np.ndarray:
    """Dot products along the last axis of ``(..., 3)`` vectors with ``(..., 3)`` vectors or one
    3-vector, written out: no BLAS threads (see ``teacher.camera.transform``)."""
    b = np.asarray(b, a.dtype)
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(..., 3)`` vectors normalised, and their lengths."""
    norm = np.sqrt(_dot(v, v))
    return v / np.maximum(norm, 1e-9)[..., None], norm


def irradiance(light, normals: np.ndarray, to_light: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Unshadowed irradiance (W/m²) from one area light, a small Lambertian emitter:
    E = P cos θ_light cos θ_surface / (π d²), for points ``dist`` away in the unit directions
    ``to_light``; 0 where ``normals`` is 0 (empty space)."""
    axis, _, _ = light_frame(light.position, light.target)
    cos_surface = np.clip(_dot(normals, to_light), 0, None)
    cos_light = np.clip(-_dot(to_light, axis), 0, None)
    return light.power * cos_surface * cos_light / (np.pi * np.maximum(dist, 1e-2) ** 2)


def _lobe(light, normals, view, cos_view, alpha, fresnel, to_light, dist) -> np.ndarray:
    dist = np.maximum(dist, 1e-2)
    cos_surface = np.clip(_dot(normals, to_light), 0, None)
    wide = np.minimum(1.0, alpha + light.size / (4 * dist))  # Karis: alpha + half-size / (2 d)
    half, _ = unit(to_light + view)
    cos_half = np.clip(_dot(normals, half), 0, 1)
    d = wide ** 2 / (np.pi * (cos_half ** 2 * (wide ** 2 - 1) + 1) ** 2)
    k = wide / 2
    g = cos_surface / (cos_surface * (1 - k) + k) * cos_view / (cos_view * (1 - k) + k)
    brdf = d * g * fresnel / np.maximum(4 * cos_surface * cos_view, 1e-4)
    return brdf * irradiance(light, normals, to_light, dist) * (alpha / wide) ** 2


def _mirror(light, position, normals, view, cos_view, alpha, fresnel) -> np.ndarray:
    axis, x_axis, y_axis = light_frame(light.position, light.target)
    reflected = 2 * cos_view[:, None] * normals - view
    towards = _dot(reflected, axis)  # < 0: travelling against the light's emission
    depth = -_dot(position - np.asarray(light.position, np.float32), axis)  # < 0 in front of the light
    hit = (towards < -1e-4) & (depth < 0)
    t = np.where(hit, depth / np.where(hit, towards, -1.0), 0.0).astype(np.float32)
    offset = position + t[:, None] * reflected - np.asarray(light.position, np.float32)
    blur = alpha * t + 1e-3  # the lobe's footprint (half-width) on the light's plane
    half = light.size / 2
    cover = np.ones_like(t)
    for coord in (_dot(offset, x_axis), _dot(offset, y_axis)):
        overlap = np.minimum(half, coord + blur) - np.maximum(-half, coord - blur)
        cover *= np.clip(overlap, 0, None) / (2 * blur)
    radiance = light.power / (np.pi * light.size ** 2)
    return np.where(hit, fresnel * radiance * cover, 0.0)


def area_specular_map(spec, world_position: np.ndarray, normals: np.ndarray, pbr: np.ndarray,
                      extrinsics: np.ndarray) -> np.ndarray:
    """The area lights' specular reflections (see the module docstring), ``(T, H, W, 2)`` float32.

    Computed in float32 on the pixels that show a surface facing the camera only (a 256² frame with
    two lights: about 20 ms on one core).

    Args:
        spec: the scene (its ``area_lights``).
        world_position, normals: ``(T, H, W, 3)`` maps; normals are 0 on empty pixels.
        pbr: ``(T, H, W, 3)`` uint8 roughness, metallic, specular × 255.
        extrinsics: ``(T, 4, 4)`` world-to-camera matrices, one per frame.
    """
    out = np.zeros(world_position.shape[:-1] + (len(SPECULAR_KEYS),), np.float32)
    if not spec.area_lights:
        return out
    cameras = camera_positions(np.asarray(extrinsics, np.float64)).astype(np.float32)  # (T, 3)
    frame = np.broadcast_to(np.arange(len(cameras))[:, None, None], world_position.shape[:-1])
    normals = np.asarray(normals, np.float32)
    surface = _dot(normals.reshape(-1, 3), normals.reshape(-1, 3)).reshape(normals.shape[:-1]) > 0.25
    position, normals = np.asarray(world_position, np.float32)[surface], normals[surface]
    view, _ = unit(cameras[frame[surface]] - position)
    cos_view = _dot(normals, view)
    seen = cos_view > 1e-3  # surfaces edge-on or facing away (an interpolated normal) reflect nothing here
    cos_view = np.clip(cos_view, 1e-3, 1)
    surface_pbr = pbr[surface].astype(np.float32)
    alpha = np.maximum((surface_pbr[:, 0] / 255) ** 2, MIN_ALPHA)
    fresnel = _fresnel(cos_view, surface_pbr)
    glare = np.zeros((len(position), len(SPECULAR_KEYS)), np.float32)
    for light in spec.area_lights:
        weight = np.float32(np.mean(srgb_to_linear(light.color[:3])))
        to_light, dist = unit(np.asarray(light.position, np.float32) - position)
        glare[:, 0] += weight * _lobe(light, normals, view, cos_view, alpha, fresnel, to_light, dist)
        glare[:, 1] += weight * _mirror(light, position, normals, view, cos_view, alpha, fresnel)
    out[surface] = glare * seen[:, None]
    return out
