"""What the scene format reads from a URDF file itself: that it is one, its movable joints, its mass.

Read with the standard XML parser, so a joint name or a broken file is caught at validation with the
field that names it, before PyBullet is loaded.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

MOVABLE = ("revolute", "continuous", "prismatic")  # PyBullet's JOINT_REVOLUTE covers continuous too


@dataclass(frozen=True)
class UrdfInfo:
    """The parts of a URDF the scene checks use."""

    movable_joints: tuple[str, ...]  # in file order
    mass: float  # kg, every link's <inertial><mass> summed (unscaled)


@functools.lru_cache(maxsize=128)
def _read(path: str, mtime: float) -> UrdfInfo:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path} is not valid URDF XML: {exc}") from None
    if root.tag != "robot":
        raise ValueError(f"{path} is not a URDF: its root element is <{root.tag}>, not <robot>")
    joints = tuple(j.get("name", "") for j in root.iter("joint") if j.get("type") in MOVABLE)
    mass = 0.0
    for node in root.iter("mass"):
        try:
            mass += float(node.get("value", "0"))
        except ValueError:
            raise ValueError(f"{path}: a <mass> value is not a number: {node.get('value')!r}") from None
    return UrdfInfo(joints, mass)


def urdf_info(path: str) -> UrdfInfo:
    """Parse ``path`` (cached by modification time).

    Raises:
        ValueError: not well-formed XML, not a ``<robot>``, or a mass that is not a number.
    """
    return _read(path, Path(path).stat().st_mtime)
