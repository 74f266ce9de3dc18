"""Random scene templates for training and evaluation data.

``random_scene(seed)`` returns a validated :class:`SceneSpec`; the same seed gives the same scene.
Scenes vary what a user's scene may hold: colours over the whole gamut (greys, near-blacks and
near-whites included), checker and image textures, primitives, mesh files, URDF objects from
pybullet_data (its thousand ``random_urdfs`` among them), the Panda arm, piles of 30+ bodies, walls,
cameras near and far, and the sun, sky and area lights of the path-traced look.

``split="heldout"`` draws from assets that ``split="train"`` never uses: other mesh and URDF files
(the duck, the teddy, r2d2, the table, the KUKA, ``random_urdfs`` 900–999), other image textures
and a band of hues (:data:`HELD_OUT_HUES`). A model trained on ``train`` scenes and evaluated on
``heldout`` ones shows whether appearance is read from the maps or remembered.
"""

from __future__ import annotations

import colorsys
import functools
import math
from pathlib import Path

import numpy as np

from worldsim.scene import SceneSpec, scene_from_dict

ASSETS = Path(__file__).resolve().parents[1] / "scenes" / "assets"
SPLITS = ("train", "heldout")
HELD_OUT_HUES = (0.40, 0.47)  # cyan-green: no training colour has a hue in this band (unless grey)
OBJECT_MATERIALS = ["default", "matte", "plastic", "rubber", "wood", "metal", "glossy"]
RANDOM_URDFS = 1000  # pybullet_data/random_urdfs/000 … 999
HELD_OUT_RANDOM_URDFS = 900  # from this index on, only in held-out scenes


def _data_path() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath())


@functools.cache
def _urdf_radius(file: str) -> float:
    """How far a URDF's geometry reaches from its base frame at scale 1 (for overlap-free placement)."""
    import pybullet as pb

    client = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(str(_data_path()), physicsClientId=client)
        uid = pb.loadURDF(file, physicsClientId=client)
        links = range(-1, pb.getNumJoints(uid, physicsClientId=client))
        boxes = [pb.getAABB(uid, link, physicsClientId=client) for link in links]
        corners = np.array([[b[i][0], b[j][1], b[k][2]] for b in boxes for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        return float(np.linalg.norm(corners, axis=1).max())
    finally:
        pb.disconnect(client)


@functools.cache
def _mesh_radius(file: str) -> float:
    """How far a mesh file's vertices reach from its origin at scale 1."""
    import trimesh

    mesh = trimesh.load(file, force="mesh")
    return float(np.linalg.norm(mesh.vertices, axis=1).max())


def _assets(split: str) -> dict[str, list]:
    """Per split: mesh files (path, scale range), URDF files (path, scale range), image textures."""
    data = _data_path()
    if split == "train":
        return {
            "meshes": [(ASSETS / "pebble.glb", 0.8, 1.6), (ASSETS / "cone.ply", 0.8, 1.6), (ASSETS / "torus.stl", 0.8, 1.6),
                       (ASSETS / "cube.obj", 0.8, 1.6), (data / "soccerball.obj", 0.1, 0.2),
                       (data / "sphere_smooth.obj", 0.08, 0.2)],
            "urdfs": [("cube_small.urdf", 1.5, 4.0), ("lego/lego.urdf", 1.5, 3.0), ("jenga/jenga.urdf", 1.0, 2.0),
                      ("sphere_small.urdf", 1.0, 3.0), ("domino/domino.urdf", 1.5, 3.0), ("tray/traybox.urdf", 0.4, 0.6)],
            "random_urdfs": (0, HELD_OUT_RANDOM_URDFS),
            "textures": [ASSETS / "wood.png", data / "checker_blue.png", data / "tex256.png", data / "cube.png",
                         data / "jenga" / "jenga.png", data / "tray" / "tray.jpg", data / "checker_grid.jpg",
                         data / "domino" / "domino.jpg", data / "colors16.png"],
        }
    return {
        "meshes": [(data / "duck.obj", 0.05, 0.1), (data / "teddy2_VHACD_CHs.obj", 0.5, 1.0)],
        "urdfs": [("duck_vhacd.urdf", 0.8, 1.5), ("teddy_vhacd.urdf", 1.0, 2.0), ("r2d2.urdf", 0.3, 0.5),
                  ("table/table.urdf", 0.4, 0.6), ("sphere2.urdf", 0.1, 0.25)],
        "random_urdfs": (HELD_OUT_RANDOM_URDFS, RANDOM_URDFS),
        "textures": [data / "uvmap.png", data / "table" / "table.png", data / "laikago" / "laikago_tex.jpg",
                     data / "roboschool" / "models_outdoor" / "stadium" / "stadium_grass.jpg"],
    }


def _colour(rng: np.random.Generator, split: str) -> list[float]:
    """An sRGB colour over the whole gamut; held-out hues only in held-out scenes."""
    if rng.uniform() < 0.15:  # greys from near-black to near-white
        v = float(rng.uniform(0.02, 0.98))
        return [round(v, 3)] * 3
    lo, hi = HELD_OUT_HUES
    if split == "train":
        hue = rng.uniform(0, 1 - (hi - lo))
        hue = hue + (hi - lo) if hue >= lo else hue
    else:
        hue = rng.uniform(lo, hi)
    sat, val = rng.uniform(0.1, 1.0), rng.uniform(0.05, 1.0)
    return [round(float(c), 3) for c in colorsys.hsv_to_rgb(hue, sat, val)]


def _texture(rng: np.random.Generator, split: str, assets: dict, checker: tuple[int, int]) -> dict:
    if rng.uniform() < 0.5:
        return {"checker": int(rng.integers(*checker)), "color_a": _colour(rng, split), "color_b": _colour(rng, split)}
    return {"image": str(assets["textures"][int(rng.integers(len(assets["textures"])))])}


def _floor(rng: np.random.Generator, split: str, assets: dict) -> dict:
    floor: dict = {"name": "floor", "type": "plane", "size": [12.0, 12.0]}
    if rng.uniform() < 0.35:
        floor["color"] = _colour(rng, split)
    else:
        floor["texture"] = _texture(rng, split, assets, (2, 30))
    return floor


def _walls(rng: np.random.Generator, split: str, assets: dict, camera: dict) -> list[dict]:
    """Up to three static walls around the play area (so scenes have backgrounds other than sky),
    always farther out than the camera: a wall's back face is culled by TinyRenderer but drawn by
    Cycles, so a camera behind or inside a wall would see two different scenes."""
    walls = []
    beyond = float(np.hypot(*camera["position"][:2])) + 0.4
    for i, angle in enumerate(rng.permutation(4)[: int(rng.integers(1, 4))]):
        a = float(angle) * math.pi / 2
        wall: dict = {"name": f"wall{i}", "type": "box", "static": True, "size": [0.1, 4.0, float(rng.uniform(0.6, 2.0))],
                      "euler_deg": [0.0, 0.0, math.degrees(a)], "material": str(rng.choice(OBJECT_MATERIALS))}
        d = max(float(rng.uniform(1.6, 2.6)), beyond)
        wall["position"] = [d * math.cos(a), d * math.sin(a), wall["size"][2] / 2]
        if rng.uniform() < 0.5:
            wall["color"] = _colour(rng, split)
        else:
            wall["texture"] = _texture(rng, split, assets, (2, 12))
        walls.append(wall)
    return walls


def _shape(rng: np.random.Generator, split: str, assets: dict, name: str, size: float) -> tuple[dict, float]:
    """One movable body and its bounding radius."""
    kind = rng.choice(["box", "sphere", "cylinder", "capsule", "mesh", "urdf"], p=[0.22, 0.18, 0.12, 0.08, 0.15, 0.25])
    body: dict = {"name": name, "type": str(kind), "material": str(rng.choice(OBJECT_MATERIALS)),
                  "euler_deg": [float(a) for a in rng.uniform(-180, 180, 3)]}
    radius = size
    if kind == "box":
        body["size"] = [float(s) for s in size * rng.uniform(0.6, 1.6, 3)]
        radius = 0.5 * float(np.linalg.norm(body["size"]))
    elif kind == "sphere":
        body["radius"], radius = float(size * 0.6), float(size * 0.6)
    elif kind in ("cylinder", "capsule"):
        body["radius"], body["length"] = float(size * 0.45), float(size * rng.uniform(0.8, 1.8))
        radius = body["radius"] + 0.5 * body["length"] + (body["radius"] if kind == "capsule" else 0.0)
    elif kind == "mesh":
        path, lo, hi = assets["meshes"][int(rng.integers(len(assets["meshes"])))]
        body["file"], body["scale"] = str(path), [float(rng.uniform(lo, hi))]
        radius = _mesh_radius(body["file"]) * body["scale"][0]
    else:
        if rng.uniform() < 0.6:
            first, last = assets["random_urdfs"]
            k = int(rng.integers(first, last))
            body["file"], body["scale"] = f"random_urdfs/{k:03d}/{k:03d}.urdf", float(rng.uniform(0.8, 1.6))
        else:
            path, lo, hi = assets["urdfs"][int(rng.integers(len(assets["urdfs"])))]
            body["file"], body["scale"] = path, float(rng.uniform(lo, hi))
        radius = _urdf_radius(body["file"]) * body["scale"]
    if kind != "urdf":
        body["color"] = _colour(rng, split)
        body["mass"] = float(rng.uniform(0.2, 2.0))
        body["friction"], body["restitution"] = float(rng.uniform(0.2, 0.9)), float(rng.uniform(0.0, 0.6))
        if rng.uniform() < 0.3:
            body["texture"] = _texture(rng, split, assets, (2, 8))
    return body, radius


def _place(rng: np.random.Generator, bodies: list[tuple[dict, float]], spread: float, height: tuple[float, float],
           obstacles: list[tuple[np.ndarray, float]]) -> None:
    """Positions without overlaps at t = 0 (rejection sampling on bounding spheres), clear of ``obstacles``."""
    placed: list[tuple[np.ndarray, float]] = list(obstacles)
    for body, radius in bodies:
        for _ in range(200):
            angle, r = rng.uniform(0, 2 * math.pi), spread * math.sqrt(rng.uniform())
            p = np.array([r * math.cos(angle), r * math.sin(angle), rng.uniform(*height) + radius])
            if all(np.linalg.norm(p - q) >= radius + s for q, s in placed):
                break
        else:  # crowded: stack it above everything placed so far
            p[2] = max(q[2] + s for q, s in placed[len(obstacles):]) + radius + 0.02
        placed.append((p, radius))
        body["position"] = [float(v) for v in p]
        if rng.uniform() < 0.4:
            body["linear_velocity"] = [float(v) for v in rng.normal(0, 1.0, 2)] + [0.0]


def _panda(rng: np.random.Generator) -> tuple[dict, list[dict]]:
    arm = {"name": "panda", "type": "urdf", "file": "franka_panda/panda.urdf", "static": True,
           "position": [-0.9, float(rng.uniform(-0.3, 0.3)), 0.0],
           "joint_positions": {"panda_joint1": float(rng.uniform(-0.8, 0.8)), "panda_joint2": float(rng.uniform(0, 0.8)),
                               "panda_joint4": float(rng.uniform(-2.4, -1.5)), "panda_joint6": 2.0}}
    events = [{"time": float(rng.uniform(0.05, 0.5)), "type": "joint_target", "body": "panda",
               "joint": f"panda_joint{j}", "position": float(rng.uniform(lo, hi))}
              for j, lo, hi in ((1, -1.0, 1.0), (2, 0.0, 1.0), (4, -2.4, -1.4))]
    return arm, events


def _kuka(rng: np.random.Generator) -> tuple[dict, list[dict]]:
    arm = {"name": "kuka", "type": "urdf", "file": "kuka_iiwa/model.urdf", "static": True,
           "position": [-0.9, float(rng.uniform(-0.3, 0.3)), 0.0],
           "joint_positions": {"lbr_iiwa_joint_2": float(rng.uniform(0.2, 0.9)),
                               "lbr_iiwa_joint_4": float(rng.uniform(-1.8, -0.8))}}
    events = [{"time": float(rng.uniform(0.05, 0.5)), "type": "joint_target", "body": "kuka",
               "joint": "lbr_iiwa_joint_1", "position": float(rng.uniform(-1.0, 1.0))}]
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
    doc["light"]["strength"] = float(rng.uniform(1.0, 6.0))
    doc["light"]["angle_deg"] = float(rng.choice([0.5, 3.0, 8.0, 15.0]))
    doc["environment"] = {"kind": "sky" if rng.uniform() < 0.8 else "uniform",
                          "color": [float(v) for v in rng.uniform(0.5, 1.0, 3)],
                          "zenith_color": [float(v) for v in rng.uniform([0.1, 0.2, 0.4], [0.7, 0.8, 1.0])],
                          "strength": float(rng.uniform(0.1, 1.5))}
    if rng.uniform() < 0.35:
        doc["area_lights"] = []
        for _ in range(int(rng.integers(1, 3))):
            angle = rng.uniform(0, 2 * math.pi)
            doc["area_lights"].append({
                "position": [1.5 * math.cos(angle), 1.5 * math.sin(angle), float(rng.uniform(0.8, 2.5))],
                "target": [0.0, 0.0, 0.0], "size": float(rng.uniform(0.2, 1.0)), "power": float(rng.uniform(30, 500)),
                "color": [float(v) for v in rng.uniform(0.6, 1.0, 3)]})


def _camera(rng: np.random.Generator, resolution: int, centre: np.ndarray) -> dict:
    """A camera looking at ``centre`` (where the bodies are) from a random direction and distance."""
    dist, azim, elev = rng.uniform(0.7, 2.6), rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 1.3)
    target = centre + np.r_[rng.normal(0, 0.1, 2), rng.uniform(0.0, 0.2)]
    offset = np.array([math.cos(azim) * math.cos(elev), math.sin(azim) * math.cos(elev), math.sin(elev)]) * dist
    return {"name": "main", "position": [float(v) for v in target + offset], "target": [float(v) for v in target],
            "fov_deg": float(rng.uniform(35, 75)), "resolution": [resolution, resolution], "far": 20.0}


def random_scene(seed: int, resolution: int = 64, frames: int = 24, look: str = "tiny", split: str = "train") -> SceneSpec:
    """A random scene of ``frames`` output frames at 24 fps, drawn from ``split``'s assets.

    ``look="cycles"`` also varies the physically based surfaces and lighting (from a second random
    stream, so the bodies, motion and camera are the same scene as ``look="tiny"``).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    assets = _assets(split)
    bodies = [_floor(rng, split, assets)]
    walls = rng.uniform() < 0.3
    pile = rng.uniform() < 0.15
    count = int(rng.integers(30, 46)) if pile else int(rng.integers(1, 9))
    size = (0.03, 0.07) if pile else (0.06, 0.22)
    movers = [_shape(rng, split, assets, f"obj{i}", float(rng.uniform(*size))) for i in range(count)]
    events: list[dict] = []
    obstacles: list[tuple[np.ndarray, float]] = []
    if rng.uniform() < 0.15:
        arm, events = _panda(rng) if split == "train" else _kuka(rng)
        obstacles = [(np.array(arm["position"]) + [0.0, 0.0, z], 0.35) for z in (0.2, 0.6, 1.0)]
        bodies.append(arm)
    _place(rng, movers, 0.35 if pile else 0.8, (0.0, 0.6 if pile else 0.5), obstacles)
    bodies += [body for body, _ in movers]
    centre = np.r_[np.mean([body["position"][:2] for body, _ in movers], axis=0), 0.0]
    camera = _camera(rng, resolution, centre)
    if walls:
        bodies += _walls(rng, split, assets, camera)
    light_azim, light_elev = rng.uniform(0, 2 * math.pi), rng.uniform(0.25, 1.45)
    light = {"direction": [math.cos(light_azim) * math.cos(light_elev), math.sin(light_azim) * math.cos(light_elev),
                           math.sin(light_elev)],
             "ambient": float(rng.uniform(0.3, 0.6)), "diffuse": float(rng.uniform(0.4, 0.7)),
             "specular": float(rng.uniform(0.0, 0.3)), "shadows": bool(rng.uniform() < 0.85)}
    doc = {"name": f"{split}{seed}", "sim": {"fps": 24.0, "duration": (frames - 1) / 24.0}, "bodies": bodies,
           "cameras": [camera], "light": light, "events": events}
    if look == "cycles":
        _path_traced_look(np.random.default_rng([seed, SPLITS.index(split), 1]), doc)
    return scene_from_dict(doc)
