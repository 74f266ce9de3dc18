"""Visual randomization: new colours, textures, light and camera pose at every reset.

``WorldsimEnv(visual_randomization=True)`` (off by default) draws, from the env's seeded
``np_random`` at each ``reset``, within these ranges (:data:`RANGES`):

* every non-robot body (table or floor, objects, goal markers): a colour of hue uniform in [0, 1),
  saturation in [0.2, 0.9] and value in [0.3, 0.95]; the floor or table gets a checker texture of
  two such colours (4–16 squares a side) with probability 0.5;
* the sun: azimuth uniform over 360°, elevation 35°–80°, each colour channel in [0.8, 1.0];
* each camera: its position moved by up to ±3 cm and its target by up to ±2 cm along every axis.

Colours and textures change the PyBullet visual shapes, so the rasterizer (``rgb_reference``),
the learned renderer's maps (``rgb``) and segmentation all see the same scene; the light goes into
the scene the renderers read. Physics is untouched: masses, frictions and shapes stay as declared.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from worldsim import PhysicsWorld
from worldsim.physics.builders import load_texture, set_texture, texture_file
from worldsim.scene.schema import CheckerTexture, PlaneBody, UrdfBody
from worldsim.scene.view import Camera

RANGES = {
    "saturation": (0.2, 0.9), "value": (0.3, 0.95), "checker_probability": 0.5, "checker": (4, 16),
    "sun_elevation_deg": (35.0, 80.0), "sun_channel": (0.8, 1.0), "camera_position_m": 0.03, "camera_target_m": 0.02,
}


@dataclass
class VisualDraw:
    """One reset's draw, kept so ``save_state``/``restore_state`` can put it back."""

    colors: dict[int, tuple[float, float, float]]
    textures: dict[int, CheckerTexture]
    light_direction: tuple[float, float, float]
    light_color: tuple[float, float, float]
    camera_offsets: dict[str, tuple[np.ndarray, np.ndarray]]


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    h = rng.uniform(0.0, 1.0)
    s, v = rng.uniform(*RANGES["saturation"]), rng.uniform(*RANGES["value"])
    return colorsys.hsv_to_rgb(h, s, v)


def draw(world: PhysicsWorld, cameras: list[str], rng: np.random.Generator) -> VisualDraw:
    """A new random look for ``world``'s non-robot bodies, its sun and ``cameras``."""
    colors, textures = {}, {}
    for i, body in enumerate(world.spec.bodies):
        if isinstance(body, UrdfBody):
            continue
        colors[i] = _colour(rng)
        flat = isinstance(body, PlaneBody) or body.name in ("table", "floor", "ground")
        if flat and rng.random() < RANGES["checker_probability"]:
            n = int(rng.integers(RANGES["checker"][0], RANGES["checker"][1] + 1))
            textures[i] = CheckerTexture(checker=n, color_a=list(_colour(rng)), color_b=list(_colour(rng)))
    azimuth = rng.uniform(0.0, 2 * math.pi)
    elevation = math.radians(rng.uniform(*RANGES["sun_elevation_deg"]))
    direction = (math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth), math.sin(elevation))
    light_color = tuple(float(c) for c in rng.uniform(*RANGES["sun_channel"], size=3))
    offsets = {name: (rng.uniform(-1, 1, 3) * RANGES["camera_position_m"], rng.uniform(-1, 1, 3) * RANGES["camera_target_m"])
               for name in cameras}
    return VisualDraw(colors, textures, direction, light_color, offsets)


def apply(world: PhysicsWorld, look: VisualDraw) -> None:
    """Paint ``look`` onto the world's visual shapes and its scene's light (physics untouched)."""
    kw = {"physicsClientId": world.client}
    for i, rgb in look.colors.items():
        uid = world.bodies[i].uid
        links = [-1, *range(pb.getNumJoints(uid, **kw))]
        texture = load_texture(texture_file(look.textures[i]), world.client) if i in look.textures else -1
        for link in links:
            rgba = [1.0, 1.0, 1.0, 1.0] if i in look.textures else [*rgb, 1.0]
            set_texture(uid, link, texture, world.client, rgbaColor=rgba)
    light = world.spec.light.model_copy(update={"direction": list(look.light_direction), "color": list(look.light_color)})
    world.spec = world.spec.model_copy(update={"light": light})


def jitter(camera: Camera, look: VisualDraw | None) -> Camera:
    """``camera`` moved by this draw's offsets (a look-at camera moves its target too)."""
    if look is None or camera.name not in look.camera_offsets:
        return camera
    d_pos, d_target = look.camera_offsets[camera.name]
    update = {"position": (np.asarray(camera.position) + d_pos).tolist()}
    if camera.target is not None:
        update["target"] = (np.asarray(camera.target) + d_target).tolist()
    return camera.model_copy(update=update)
