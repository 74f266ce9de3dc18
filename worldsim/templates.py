"""Random scene templates for training data: varied shapes, meshes, colours, textures, cameras,
lights, and a Panda arm in some scenes; objects fall, collide, slide and roll.

``random_scene(seed)`` returns a validated :class:`SceneSpec`; the same seed gives the same scene.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from worldsim.scene import SceneSpec, scene_from_dict

ASSETS = Path(__file__).resolve().parents[1] / "scenes" / "assets"
MESHES = ["pebble.glb", "cone.ply", "torus.stl", "cube.obj"]
OBJECT_MATERIALS = ["default", "matte", "plastic", "rubber", "wood", "metal", "glossy"]


def _colour(rng: np.random.Generator) -> list[float]:
    hue = rng.uniform()
    sat, val = rng.uniform(0.35, 1.0), rng.uniform(0.35, 1.0)
    i = int(hue * 6) % 6
    f = hue * 6 - int(hue * 6)
    p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
    rgb = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i]
    return [round(float(c), 3) for c in rgb]


def _floor(rng: np.random.Generator) -> dict:
    kind = rng.choice(["plain", "checker", "checker", "wood"])
    floor = {"name": "floor", "type": "plane", "size": [12.0, 12.0]}
    if kind == "plain":
        floor["color"] = _colour(rng)
    elif kind == "checker":
        floor["texture"] = {"checker": int(rng.integers(4, 24)), "color_a": _colour(rng), "color_b": _colour(rng)}
    else:
        floor["texture"] = {"image": str(ASSETS / "wood.png")}
        floor["material"] = "wood"
    return floor


def _object(rng: np.random.Generator, i: int) -> dict:
    kind = rng.choice(["box", "sphere", "cylinder", "capsule", "mesh"], p=[0.3, 0.25, 0.15, 0.1, 0.2])
    size = rng.uniform(0.08, 0.22)
    body: dict = {"name": f"obj{i}", "type": str(kind), "color": _colour(rng),
                  "material": str(rng.choice(OBJECT_MATERIALS)), "mass": float(rng.uniform(0.2, 2.0)),
                  "friction": float(rng.uniform(0.2, 0.9)), "restitution": float(rng.uniform(0.0, 0.6)),
                  "euler_deg": [float(a) for a in rng.uniform(-180, 180, 3)]}
    if kind == "box":
        body["size"] = [float(s) for s in size * rng.uniform(0.6, 1.6, 3)]
    elif kind == "sphere":
        body["radius"] = float(size * 0.6)
        body["euler_deg"] = [0.0, 0.0, 0.0]
    elif kind in ("cylinder", "capsule"):
        body["radius"], body["length"] = float(size * 0.45), float(size * rng.uniform(0.8, 1.8))
    else:
        body["file"] = str(ASSETS / MESHES[int(rng.integers(len(MESHES)))])
        body["scale"] = [float(rng.uniform(0.8, 1.6))]
    if rng.uniform() < 0.25:
        body["texture"] = {"checker": int(rng.integers(2, 6)), "color_a": _colour(rng), "color_b": _colour(rng)}
    # Scatter on a ring; drop from a height, and give some a shove so they slide and collide.
    angle, radius = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 0.7)
    body["position"] = [radius * math.cos(angle), radius * math.sin(angle), float(rng.uniform(0.15, 1.0))]
    if rng.uniform() < 0.5:
        body["linear_velocity"] = [float(v) for v in rng.normal(0, 1.2, 2)] + [0.0]
    return body


def _panda(rng: np.random.Generator) -> tuple[dict, list[dict]]:
    arm = {"name": "panda", "type": "urdf", "file": "franka_panda/panda.urdf", "static": True,
           "position": [-0.9, float(rng.uniform(-0.3, 0.3)), 0.0],
           "joint_positions": {"panda_joint1": float(rng.uniform(-0.8, 0.8)), "panda_joint2": float(rng.uniform(0, 0.8)),
                               "panda_joint4": float(rng.uniform(-2.4, -1.5)), "panda_joint6": 2.0}}
    events = [{"time": float(rng.uniform(0.1, 0.8)), "type": "joint_target", "body": "panda",
               "joint": f"panda_joint{j}", "position": float(rng.uniform(lo, hi))}
              for j, lo, hi in ((1, -1.0, 1.0), (2, 0.0, 1.0), (4, -2.4, -1.4))]
    return arm, events


def _path_traced_look(rng: np.random.Generator, doc: dict) -> None:
    """Vary what only the path-traced teacher sees: surfaces (roughness, metallic, specular), the
    sun's strength and size, the sky, and sometimes area lights."""
    for body in doc["bodies"]:
        if body["type"] == "urdf":
            continue
        body["roughness"] = float(rng.uniform(0.05, 0.95))
        body["metallic"] = float(rng.uniform() < (0.6 if body.get("material") == "metal" else 0.12))
        body["specular"] = float(rng.uniform(0.2, 0.9))
    doc["light"]["strength"] = float(rng.uniform(1.5, 5.0))
    doc["light"]["angle_deg"] = float(rng.choice([0.5, 3.0, 8.0, 15.0]))
    doc["environment"] = {"kind": "sky" if rng.uniform() < 0.8 else "uniform",
                          "color": [float(v) for v in rng.uniform(0.6, 1.0, 3)],
                          "zenith_color": [float(v) for v in rng.uniform([0.2, 0.3, 0.5], [0.6, 0.7, 1.0])],
                          "strength": float(rng.uniform(0.2, 1.2))}
    if rng.uniform() < 0.3:
        doc["area_lights"] = []
        for _ in range(int(rng.integers(1, 3))):
            angle = rng.uniform(0, 2 * math.pi)
            doc["area_lights"].append({
                "position": [1.5 * math.cos(angle), 1.5 * math.sin(angle), float(rng.uniform(1.0, 2.5))],
                "target": [0.0, 0.0, 0.0], "size": float(rng.uniform(0.3, 1.0)), "power": float(rng.uniform(50, 400)),
                "color": [float(v) for v in rng.uniform(0.7, 1.0, 3)]})


def random_scene(seed: int, resolution: int = 64, frames: int = 24, look: str = "tiny") -> SceneSpec:
    """A random training scene; ``frames`` output frames at 24 fps.

    ``look="cycles"`` also varies the physically based surfaces and lighting (from a second random
    stream, so the bodies, motion and camera are the same scene as ``look="tiny"``).
    """
    rng = np.random.default_rng(seed)
    bodies = [_floor(rng)] + [_object(rng, i) for i in range(int(rng.integers(2, 7)))]
    events: list[dict] = []
    if rng.uniform() < 0.2:
        arm, events = _panda(rng)
        bodies.append(arm)
    dist, azim, elev = rng.uniform(1.2, 2.3), rng.uniform(0, 2 * math.pi), rng.uniform(0.35, 1.1)
    camera = {"name": "main", "position": [dist * math.cos(azim) * math.cos(elev), dist * math.sin(azim) * math.cos(elev),
                                            dist * math.sin(elev)],
              "target": [float(v) for v in rng.normal(0, 0.15, 2)] + [0.1], "fov_deg": float(rng.uniform(45, 65)),
              "resolution": [resolution, resolution], "far": 20.0}
    light_azim, light_elev = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.4)
    light = {"direction": [math.cos(light_azim) * math.cos(light_elev), math.sin(light_azim) * math.cos(light_elev),
                           math.sin(light_elev)],
             "ambient": float(rng.uniform(0.3, 0.6)), "diffuse": float(rng.uniform(0.4, 0.7)),
             "specular": float(rng.uniform(0.0, 0.3)), "shadows": bool(rng.uniform() < 0.85)}
    doc = {"name": f"random{seed}", "sim": {"fps": 24.0, "duration": (frames - 1) / 24.0}, "bodies": bodies,
           "cameras": [camera], "light": light, "events": events}
    if look == "cycles":
        _path_traced_look(np.random.default_rng([seed, 1]), doc)
    return scene_from_dict(doc)
