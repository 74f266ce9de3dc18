"""The renderer's condition arrays from a scene and its frames, in numpy (no torch).

One clip's arrays (``T`` frames of ``H x W``):

``albedo (T,H,W,3) uint8``, ``normals``/``world_position (T,H,W,3) float16``, ``depth (T,H,W) float16``,
``light_visibility (T,H,W) uint8`` (1 lit), ``segmentation (T,H,W) int16`` (body index, −1 empty),
``material (T,H,W) uint8`` (global material id, 0 empty), ``pbr (T,H,W,3) uint8`` (roughness,
metallic, specular × 255), ``area_light (T,H,W,3) float16`` (unshadowed area-light irradiance, W/m²,
RGB), ``area_specular (T,H,W,2) float16`` (the area lights' glare on glossy surfaces, linear radiance:
:mod:`worldsim.conditioning.specular`), ``extrinsics (T,4,4)``; per clip ``intrinsics (3,3)``,
``light (10,)`` (:func:`light_vector`) and ``environment (9,)`` (:func:`environment_vector`).

Nothing here depends on how many bodies a scene has: identity reaches the model through the
segmentation (boundaries), never through a table of object slots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from worldsim.conditioning.specular import area_specular_map, irradiance, unit
from worldsim.materials import srgb_to_linear

# Arrays holding one value per clip; every other array has a frame axis first.
CLIP_KEYS = ("intrinsics", "light", "environment")
FRAME_KEYS = ("albedo", "normals", "world_position", "depth", "light_visibility", "segmentation", "material", "pbr",
              "area_light", "area_specular", "extrinsics")
KEYS = FRAME_KEYS + CLIP_KEYS
# Arrays with no pixel axes (per clip, or a camera per frame): a crop keeps them whole.
NON_PIXEL_KEYS = CLIP_KEYS + ("extrinsics",)


def light_vector(spec) -> np.ndarray:
    """The global light controls as a (10,) vector: direction xyz, colour rgb, ambient, diffuse,
    specular, shadows."""
    light = spec.light
    direction = np.asarray(light.direction, dtype=np.float32)
    return np.concatenate([direction / np.linalg.norm(direction), np.asarray(light.color[:3], np.float32),
                           [light.ambient, light.diffuse, light.specular, float(light.shadows)]]).astype(np.float32)


def environment_vector(spec) -> np.ndarray:
    """The path-traced look's global lighting as a (9,) vector: sun strength / 5, sun angle / 10°,
    sky flag, horizon and zenith colours (linear) times the environment's strength."""
    env, light = spec.environment, spec.light
    return np.concatenate([[light.strength / 5.0, light.angle_deg / 10.0, float(env.kind == "sky")],
                           srgb_to_linear(env.color[:3]) * env.strength,
                           srgb_to_linear(env.zenith_color[:3]) * env.strength]).astype(np.float32)


def pbr_map(spec, segmentation: np.ndarray) -> np.ndarray:
    """Per-pixel (roughness, metallic, specular) × 255 as ``uint8 (..., 3)``; 0 where empty."""
    lut = np.zeros((len(spec.bodies) + 1, 3), np.float32)
    lut[1:] = [body.pbr for body in spec.bodies]
    return np.round(lut * 255).astype(np.uint8)[np.asarray(segmentation) + 1]  # rounded per body, not per pixel


def area_light_map(spec, world_position: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Unshadowed irradiance (W/m², RGB, linear) from the scene's area lights at every pixel, ``(..., 3)``
    (:func:`~worldsim.conditioning.specular.irradiance` per light, times its colour). Zero where
    ``normals`` is zero (empty space)."""
    out = np.zeros(world_position.shape[:-1] + (3,), np.float32)
    position, normals = np.asarray(world_position, np.float32), np.asarray(normals, np.float32)
    for light in spec.area_lights:
        to_light, dist = unit(np.asarray(light.position, np.float32) - position)
        out += irradiance(light, normals, to_light, dist)[..., None] * srgb_to_linear(light.color[:3]).astype(np.float32)
    return out


def condition_arrays(spec, maps: dict[str, np.ndarray], pbr: bool = True) -> dict[str, np.ndarray]:
    """One clip's condition arrays from ``maps.npz``-style arrays (leading T axis); ``pbr=False``
    leaves out ``pbr``, ``area_light``, ``area_specular`` and ``environment``, which only a Cycles-look
    model reads."""
    out = {
        "albedo": np.asarray(maps["albedo"], np.uint8),
        "normals": maps["normals"].astype(np.float16), "world_position": maps["world_position"].astype(np.float16),
        "depth": maps["depth"].astype(np.float16), "segmentation": maps["segmentation"].astype(np.int16),
        "material": maps["material"].astype(np.uint8), "light_visibility": maps["light_visibility"].astype(np.uint8),
        "extrinsics": maps["extrinsics"].astype(np.float32), "intrinsics": np.asarray(maps["intrinsics"], np.float32),
        "light": light_vector(spec),
    }
    if pbr:
        surface = pbr_map(spec, maps["segmentation"])
        out.update(environment=environment_vector(spec), pbr=surface,
                   area_light=area_light_map(spec, maps["world_position"], maps["normals"]).astype(np.float16),
                   area_specular=area_specular_map(spec, maps["world_position"], maps["normals"], surface,
                                                   maps["extrinsics"]).astype(np.float16))
    return out


MAP_KEYS = ("rgb", "albedo", "segmentation", "depth", "normals", "world_position", "material", "light_visibility",
            "extrinsics")


CONDITION_MAP_KEYS = tuple(key for key in MAP_KEYS if key != "rgb")  # the maps a condition is made of


def frame_maps(frames: Sequence, keys: Sequence[str] = MAP_KEYS) -> dict[str, np.ndarray]:
    """``maps.npz``-style arrays (leading T axis) from teacher frames (:class:`~worldsim.teacher.gbuffer.Frame`)."""
    out = {key: np.stack([getattr(f, key) for f in frames]) for key in keys}
    out["intrinsics"] = frames[0].intrinsics
    return out


def from_frames(spec, frames: Sequence, pbr: bool = True) -> dict[str, np.ndarray]:
    """One clip's condition arrays from the teacher's frames of ``spec``'s world (``pbr``: see
    :func:`condition_arrays`)."""
    return condition_arrays(spec, frame_maps(frames, CONDITION_MAP_KEYS), pbr=pbr)


def window(clip: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Frames ``start:stop`` of a clip's arrays (per-clip arrays unchanged)."""
    return {key: (value if key in CLIP_KEYS else value[start:stop]) for key, value in clip.items()}


def stack(clips: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Clips of the same length and size → arrays with a leading batch axis."""
    return {key: np.stack([clip[key] for clip in clips]) for key in clips[0]}


def crop(batch: dict[str, np.ndarray], top: np.ndarray, left: np.ndarray, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per-row crops of a batch (``top``/``left`` (B,) pixel offsets, ``size`` (H, W)); intrinsics follow."""
    h, w = size
    out = {}
    for key, value in batch.items():
        if key in NON_PIXEL_KEYS or value.ndim < 4:
            out[key] = value
            continue
        out[key] = np.stack([v[:, y:y + h, x:x + w] for v, y, x in zip(value, top, left, strict=True)])
    if "intrinsics" in batch:
        out["intrinsics"] = cropped_intrinsics(batch["intrinsics"], top, left)
    return out


def cropped_intrinsics(intrinsics: np.ndarray, top: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Per-row intrinsics ``(B, 3, 3)`` of crops whose corners are at ``top``/``left`` (B,): the principal point moves."""
    intr = np.array(intrinsics, np.float32, copy=True)
    intr[:, 0, 2] -= left
    intr[:, 1, 2] -= top
    return intr
