"""The material vocabulary the learned renderer keys on.

Material ids are global (the same id means the same material in every scene, dataset and checkpoint),
so they are a fixed list here rather than per-scene. Id 0 is reserved for empty space.
"""

from __future__ import annotations

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
