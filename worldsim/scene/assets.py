"""Resolving asset paths (meshes, textures, URDFs) named in a scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCENES_DIR = Path(__file__).resolve().parents[2] / "scenes"  # the bundled scenes and their assets


def asset_roots(context: dict[str, Any] | None) -> list[Path]:
    """Directories searched for a relative asset path, in order.

    The scene file's own directory first, then the bundled ``scenes/`` assets, then pybullet_data
    (so ``franka_panda/panda.urdf`` works as in PyBullet's own examples).
    """
    import pybullet_data

    roots: list[Path] = []
    if context and context.get("base_dir"):
        roots.append(Path(context["base_dir"]))
    roots.append(SCENES_DIR)
    roots.append(Path(pybullet_data.getDataPath()))
    return roots


def resolve_asset(value: str, context: dict[str, Any] | None, kinds: tuple[str, ...]) -> str:
    """Return the absolute path of an asset, or raise ValueError saying where it was looked for."""
    suffix = Path(value).suffix.lower()
    if suffix not in kinds:
        raise ValueError(f"unsupported file type {suffix or '(none)'!r} for {value!r}; expected one of {', '.join(kinds)}")
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [root / path for root in asset_roots(context)]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.resolve())
    looked = ", ".join(str(c.parent) for c in candidates)
    raise ValueError(f"file not found: {value!r} (looked in {looked})")
