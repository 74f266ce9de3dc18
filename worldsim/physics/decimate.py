"""Light copies of heavy URDF visual meshes, so drawing a robot costs what its picture needs.

The Panda's visual meshes hold ~100k triangles; at 64² TinyRenderer spends most of an env step
transforming them, and the shadow map draws them again. Visual shapes never touch the physics,
so a URDF is loaded through a copy whose heavy visual OBJs are decimated (quadric error,
per material part, with smooth normals; a part coloured by one swatch of a palette texture keeps
that colour through one UV). Collision meshes, and parts whose texture really varies, are left
as they are. Every renderer (TinyRenderer, the shadow map, Cycles through
:mod:`worldsim.teacher.visual_shapes`) then draws the same light meshes, so the learned renderer's
maps and its teacher's pictures agree exactly.

Measured on ``scenes/tasks/panda_push.yaml`` (``tests/physics/test_decimate.py`` checks the
picture): the Panda's TinyRenderer pass at 64² goes from ~22 ms to ~6 ms; at 256² 0.2 % of
pixels change body and the shadow map agrees on 99.5 %. The copies live in a content-addressed
cache (:func:`worldsim.io.cache_dir`), written atomically.
"""

from __future__ import annotations

import functools
import hashlib
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.io import cache_dir, write_atomic

VISUAL_FACE_BUDGET = 3000  # triangles per visual mesh file; the Panda's 8 files go from 101k to ~20k
SMALL_IMAGE_FACE_BUDGET = 750  # for images up to SMALL_IMAGE_SIDE: the Panda at ~6k triangles
SMALL_IMAGE_SIDE = 128
MIN_PART_FACES = 64  # parts this small are kept whole (decimating them saves nothing and loses shape)
UNIFORM_TOLERANCE = 16 / 255  # a palette swatch varying less than this (99 % of texels) is one colour
TEXTURE_SIDE = 256  # px: TinyRenderer samples a 1024² palette no better than a 256² one
VERSION = 10  # bump when the copies' content changes, so stale cache entries are not reused


def _resolve(filename: str, urdf_dir: Path) -> Path:
    """A URDF's mesh/texture reference as an absolute path (``package://`` is relative to the URDF)."""
    name = filename.removeprefix("package://")
    path = Path(name)
    return path if path.is_absolute() else (urdf_dir / path)


@dataclass
class Part:
    """One material part of an OBJ.

    ``swatch``: the one UV every vertex of a palette-coloured part may take (None: not one);
    ``textured``: its texture really varies over it, so it is kept whole with its own UVs.
    """

    mesh: object
    diffuse: np.ndarray  # RGBA 0–1, the material's Kd
    image: object | None
    swatch: np.ndarray | None
    textured: bool


def _diffuse(mesh) -> np.ndarray:
    material = getattr(mesh.visual, "material", None)
    colour = getattr(material, "diffuse", None)
    if colour is None:
        colour = getattr(material, "baseColorFactor", None)
    return np.asarray(colour if colour is not None else (255, 255, 255, 255), np.float64)[:4] / 255.0


def _swatch(image, uv: np.ndarray) -> np.ndarray | None:
    """The UV of the one colour a part shows, or None if its texture varies over it.

    Robot meshes (the Panda's among them) colour parts by pointing every UV into a swatch of one
    palette image, and PyBullet gives a mesh file one texture for all its parts. Such a part is
    really one colour: it can be decimated and all its vertices given that swatch's UV.
    """
    texels_all = np.asarray(image.convert("RGBA"), np.float64) / 255.0
    h, w = texels_all.shape[:2]
    cols = np.clip((uv[:, 0] % 1.0) * (w - 1), 0, w - 1).round().astype(int)
    rows = np.clip((1.0 - uv[:, 1] % 1.0) * (h - 1), 0, h - 1).round().astype(int)
    texels = texels_all[rows, cols]
    deviation = np.abs(texels - np.median(texels, axis=0)).max(axis=1)
    if np.quantile(deviation, 0.99) > UNIFORM_TOLERANCE:
        return None
    return uv[int(np.argmin(deviation))]


def _parts(path: Path) -> list[Part]:
    """The OBJ's material parts (trimesh splits an OBJ by material)."""
    import trimesh

    loaded = trimesh.load(str(path), process=False)
    meshes = loaded.dump(concatenate=False) if isinstance(loaded, trimesh.Scene) else [loaded]
    parts = []
    for mesh in meshes:
        # trimesh splits an OBJ by material but may leave each part the whole file's vertex list
        mesh.remove_unreferenced_vertices()
        image = getattr(getattr(mesh.visual, "material", None), "image", None)
        uv = getattr(mesh.visual, "uv", None)
        if image is None or uv is None or len(uv) == 0:
            parts.append(Part(mesh, _diffuse(mesh), None, None, False))
            continue
        swatch = _swatch(image, np.asarray(uv, np.float64))
        parts.append(Part(mesh, _diffuse(mesh), image, swatch, swatch is None))
    return parts


def _texture_file(image) -> str:
    """A cached PNG of the mesh's texture, at most ``TEXTURE_SIDE`` pixels a side (the copy's MTL
    must name a file beside it). TinyRenderer's cost grows with texture size, not just triangles."""
    from PIL import Image

    if max(image.size) > TEXTURE_SIDE:
        scale = TEXTURE_SIDE / max(image.size)
        image = image.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))), Image.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    out = cache_dir("light_meshes") / f"{hashlib.sha1(data).hexdigest()[:16]}.png"
    if not out.exists():
        write_atomic(out, data)
    return out.name


def _decimate(vertices: np.ndarray, faces: np.ndarray, keep: float) -> tuple[np.ndarray, np.ndarray]:
    import fast_simplification
    import trimesh

    if len(faces) < MIN_PART_FACES or keep >= 1.0:
        return vertices, faces
    # OBJ exporters split vertices at every UV/normal seam; quadric decimation needs them welded
    welded = trimesh.Trimesh(vertices, faces, process=True)
    vertices, faces = np.asarray(welded.vertices), np.asarray(welded.faces)
    v, f = fast_simplification.simplify(vertices.astype(np.float32), faces.astype(np.int32), target_reduction=1.0 - keep)
    light = trimesh.Trimesh(v, f, process=True)  # welds again and drops the collapsed faces it may leave
    light.update_faces(light.nondegenerate_faces(height=None))
    light.remove_unreferenced_vertices()
    return (np.asarray(light.vertices), np.asarray(light.faces)) if len(light.faces) else (vertices, faces)


def _write_obj(parts: list[Part], keep: float, out: Path) -> int:
    """Write the parts (decimated unless textured) as one OBJ with one material each; returns the
    triangle count."""
    import trimesh

    image = next((p.image for p in parts if p.image is not None), None)
    texture = _texture_file(image) if image is not None else None
    obj, mtl = [f"mtllib {out.with_suffix('.mtl').name}"], []
    v_offset, t_offset, total = 1, 1, 0
    for i, part in enumerate(parts):
        v, f = np.asarray(part.mesh.vertices), np.asarray(part.mesh.faces)
        kd = part.diffuse
        mtl += [f"newmtl part{i}", "Ka 0 0 0", f"Kd {kd[0]:.6f} {kd[1]:.6f} {kd[2]:.6f}", f"d {kd[3]:.6f}"]
        mtl += [f"map_Kd {texture}"] if part.image is not None else []
        obj += [f"o part{i}", f"usemtl part{i}"]
        if part.textured:
            uv, corners = np.asarray(part.mesh.visual.uv), f + t_offset  # one UV per vertex, as loaded
        else:
            v, f = _decimate(v, f, keep)
            uv = part.swatch[None] if part.swatch is not None else np.zeros((0, 2))
            corners = np.full_like(f, t_offset) if part.swatch is not None else None
        # trimesh's area-weighted vertex normals: without them TinyRenderer shades every facet flat
        normals = trimesh.Trimesh(v, f, process=False).vertex_normals
        obj += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
        obj += [f"vn {x:.5f} {y:.5f} {z:.5f}" for x, y, z in normals]
        obj += [f"vt {a:.6f} {b:.6f}" for a, b in uv]
        ref = (lambda k, t: f"{k}/{t}/{k}") if corners is not None else (lambda k, t: f"{k}//{k}")
        tex = corners if corners is not None else f
        obj += ["f " + " ".join(ref(int(k) + v_offset, int(t)) for k, t in zip(face, tf, strict=True))
                for face, tf in zip(f, tex, strict=True)]
        mtl.append("")
        v_offset, t_offset, total = v_offset + len(v), t_offset + len(uv), total + len(f)
    write_atomic(out.with_suffix(".mtl"), "\n".join(mtl) + "\n")
    write_atomic(out, "\n".join(obj) + "\n")
    return total


def visual_faces_for(image_side: int) -> int:
    """Triangles per visual mesh file for images of ``image_side`` pixels: fewer for small images.

    At 64² the Panda at 750 per file (vs 3000) changes the body under 0.15 % of pixels and cuts
    TinyRenderer's map pass with shadow map by ~40 % (``tests/physics/test_decimate.py``).
    """
    return SMALL_IMAGE_FACE_BUDGET if image_side <= SMALL_IMAGE_SIDE else VISUAL_FACE_BUDGET


def light_mesh(path: str | Path, budget: int = VISUAL_FACE_BUDGET) -> Path:
    """``path`` itself when it is light, textured or not an OBJ; otherwise a decimated cached copy."""
    path = Path(path)
    if path.suffix.lower() != ".obj" or not path.exists():
        return path
    key = hashlib.sha1(path.read_bytes() + f"{budget}:{VERSION}".encode()).hexdigest()[:16]
    out = cache_dir("light_meshes") / f"{key}.obj"
    if out.exists():
        return out
    parts = _parts(path)
    images = {hashlib.sha1(p.image.tobytes()).digest() for p in parts if p.image is not None}
    faces = sum(len(p.mesh.faces) for p in parts if not p.textured)
    kept = sum(len(p.mesh.faces) for p in parts if p.textured)
    if len(images) > 1 or faces + kept <= budget or faces <= max(budget - kept, 0):
        return path  # light already, or several textures (which PyBullet would not draw either)
    _write_obj(parts, max(budget - kept, MIN_PART_FACES) / faces, out)
    return out


def light_urdf(path: str | Path, budget: int = VISUAL_FACE_BUDGET) -> str:
    """A URDF equal to ``path`` but for decimated visual meshes (``path`` itself if nothing is heavy).

    Every relative or ``package://`` reference is made absolute, since the copy lives in the cache.
    """
    path = Path(path).resolve()
    return _light_urdf(str(path), path.stat().st_mtime_ns, budget)


@functools.lru_cache(maxsize=256)
def _light_urdf(path_str: str, mtime_ns: int, budget: int) -> str:
    """Cached per file version: a randomized env rebuilds its world every reset."""
    path = Path(path_str)
    tree = ET.parse(path)
    urdf_dir, changed = path.parent, False
    visual_meshes = {id(mesh) for visual in tree.iter("visual") for mesh in visual.iter("mesh")}
    for element in tree.iter():
        filename = element.get("filename")
        if filename is None:
            continue
        resolved = _resolve(filename, urdf_dir)
        light = light_mesh(resolved, budget) if id(element) in visual_meshes else resolved
        changed |= light != resolved
        element.set("filename", str(light))
    if not changed:
        return str(path)
    text = ET.tostring(tree.getroot(), encoding="unicode")
    out = cache_dir("light_urdfs") / f"{hashlib.sha1((str(path) + text).encode()).hexdigest()[:16]}.urdf"
    if not out.exists():
        write_atomic(out, text)
    return str(out)
