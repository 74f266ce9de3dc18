"""The material vocabulary the learned renderer keys on.

Material ids are global (the same id means the same material in every scene, dataset and checkpoint),
so they are a fixed list here rather than per-scene. Id 0 is reserved for empty space.
"""

from __future__ import annotations

import numpy as np

MATERIALS: tuple[str, ...] = (
    "default",
    "matte",
    "plastic",
    "rubber",
    "wood",
    "metal",
    "glossy",
    "ground",
    "robot",
)

EMPTY_MATERIAL_ID = 0


def material_id(name: str) -> int:
    """Return the global id (``>= 1``) of a material name.

    Raises:
        KeyError: the name is not in :data:`MATERIALS`.
    """
    return MATERIALS.index(name) + 1


# Physically based defaults per material name, used by the path-traced teacher (:mod:`worldsim.teacher.cycles`)
# when a body gives no roughness/metallic/specular of its own: (roughness, metallic, specular).
PBR_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "default": (0.5, 0.0, 0.5),
    "matte": (0.9, 0.0, 0.2),
    "plastic": (0.35, 0.0, 0.5),
    "rubber": (0.8, 0.0, 0.3),
    "wood": (0.7, 0.0, 0.3),
    "metal": (0.3, 1.0, 0.5),
    "glossy": (0.08, 0.0, 0.8),
    "ground": (0.8, 0.0, 0.3),
    "robot": (0.4, 0.0, 0.5),
}


def srgb_to_linear(c) -> np.ndarray:
    """Scene colours are display (sRGB) values; path tracing and irradiance work in linear light."""
    c = np.asarray(c, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
