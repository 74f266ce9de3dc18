"""The learned renderer's condition maps for many cameras at once, drawn by :mod:`worldsim.teacher.raster`.

:func:`render_maps` is the map pass of :func:`worldsim.teacher.tiny.render_frame` (``passes="maps"``
with the light visibility) for one or more ``(world, camera)`` views: the views' pictures are one
compiled rasterizer call and their shadow maps another. The envs draw their ``rgb``, ``depth`` and
``segmentation`` observations with it. PandaPush, one view per call, in one run of
``python benchmarks/maps.py``: at 64², 1.0 ms for the maps and 1.96 ms with the light visibility,
against TinyRenderer's 3.6 and 7.4 ms (its lit pass, ``rgb_reference``: 5.2 ms); at 256², 7.0 and
10.7 against 26.6 and 43.7 (lit: 32.2). The per-pixel work after rasterizing is compiled too
(:mod:`worldsim.teacher.map_kernels`). It is also the map pass of the Cycles look (datasets, eval
and ``worldsim render``; :func:`worldsim.recording.rollout`), because it draws the triangles and UVs
Cycles draws; the raster look keeps TinyRenderer's maps, which line up with TinyRenderer's picture.

Pixels are sampled where TinyRenderer samples them (``TINY_SAMPLE``), so the maps match the ones the
shipped models learned from: on ``panda_push`` at 64², 99.95 % of pixels show the same body, depth
agrees to 1e-5 m and albedo to ~2 levels (``tests/teacher/test_maps.py``).

The shadow maps are orthographic (the sun is a directional light), fitted to the receivers each
camera sees, with the same normal-offset lookup as :func:`worldsim.teacher.shadows.light_visibility`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from worldsim.materials import EMPTY_MATERIAL_ID
from worldsim.scene.view import Camera
from worldsim.teacher import map_kernels as kernels
from worldsim.teacher.camera import extrinsics, gl_matrix, gl_projection, gl_view, intrinsics
from worldsim.teacher.gbuffer import Frame, normals_from_positions
from worldsim.teacher.raster import Hits, rasterize
from worldsim.teacher.scene_mesh import SceneMesh, Surfaces
from worldsim.teacher.shadows import (
    CASTER_RANGE,
    DISTANCE,
    LightView,
    cannot_shadow,
    light_axes,
    map_size,
    world_planes,
)

# TinyRenderer samples pixel (row i, column j) at its bottom-left corner, (x, y) = (j, i + 1) from
# the top-left: depth read there agrees with its z-buffer to float precision (at the centre: 9 mm off).
TINY_SAMPLE = (0.0, 1.0)


def _drawn_faces(mesh: SceneMesh, surfaces: Surfaces, skip_bodies: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The faces drawn, as indices into ``mesh.faces`` and vertex triples: TinyRenderer skips shapes of
    zero alpha; ``skip_bodies`` go too."""
    drawn = surfaces.rgba[:, 3] > 0
    for body in skip_bodies:  # a plane or two: cheaper than np.isin's set-up
        drawn &= mesh.shape_body != body
    return mesh.faces_of(drawn)


def _stack(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image, its vertices' clip coordinates (V, 4) and the faces (F, 3) it draws → one indexed
    mesh for :func:`rasterize`: vertices, faces and each face's image."""
    if len(parts) == 1:
        (clip, faces), = parts
        return clip, faces, np.zeros(len(faces), np.int64)
    offsets = np.cumsum([0] + [len(clip) for clip, _ in parts])
    clip = np.concatenate([clip for clip, _ in parts])
    faces = np.concatenate([faces + offset for (_, faces), offset in zip(parts, offsets[:-1], strict=True)])
    image = np.concatenate([np.full(len(faces), k, dtype=np.int64) for k, (_, faces) in enumerate(parts)])
    return clip, faces, image


@numba.njit(cache=True, nogil=True)
def _shade(triangle, bary, faces, face_shape, uv, rgba, texture, atlas, offsets, sizes, out):  # pragma: no cover
    """Albedo per pixel: base colour times the nearest texel (wrapping; image rows run top-down while v
    runs up), floored to uint8 as TinyRenderer's unlit pass does."""
    for p in range(triangle.shape[0]):
        t = triangle[p]
        if t < 0:
            continue
        s = face_shape[t]
        r, g, b = 255.0, 255.0, 255.0
        k = texture[s]
        if k >= 0:
            u = bary[p, 0] * uv[faces[t, 0], 0] + bary[p, 1] * uv[faces[t, 1], 0] + bary[p, 2] * uv[faces[t, 2], 0]
            v = bary[p, 0] * uv[faces[t, 0], 1] + bary[p, 1] * uv[faces[t, 1], 1] + bary[p, 2] * uv[faces[t, 2], 1]
            h, w = sizes[k, 0], sizes[k, 1]
            col = min(int((u - np.floor(u)) * w), w - 1)
            flipped = 1.0 - v
            row = min(int((flipped - np.floor(flipped)) * h), h - 1)
            at = offsets[k] + (row * w + col) * 3
            r, g, b = float(atlas[at]), float(atlas[at + 1]), float(atlas[at + 2])
        out[p, 0] = min(np.floor(rgba[s, 0] * r), 255.0)
        out[p, 1] = min(np.floor(rgba[s, 1] * g), 255.0)
        out[p, 2] = min(np.floor(rgba[s, 2] * b), 255.0)


def _albedo(mesh: SceneMesh, surfaces: Surfaces, triangle: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """``uint8 (H, W, 3)``: each pixel's base colour times its texture texel, as TinyRenderer's unlit pass."""
    height, width = triangle.shape
    out = np.zeros((height * width, 3), np.uint8)
    tex = surfaces.atlas
    _shade(triangle.reshape(-1), bary.reshape(-1, 3), mesh.faces, mesh.face_shape, mesh.uv,
           surfaces.rgba, surfaces.texture, tex.texels, tex.offsets, tex.sizes, out)
    return out.reshape(height, width, 3)


def _visibility(meshes: Sequence[SceneMesh], poses: Sequence[np.ndarray], surfaces: Sequence[Surfaces],
                frames: Sequence[Frame]) -> list[np.ndarray]:
    """Each frame's light visibility, from one batched rasterization of every frame's shadow map."""
    jobs, parts = [], []
    for i, (mesh, pose, surf, frame) in enumerate(zip(meshes, poses, surfaces, frames, strict=True)):
        world = mesh.world
        planes = world_planes(world)
        axes = light_axes(world.spec.light.direction)
        normals = np.array([plane.normal for plane in planes]).reshape(-1, 3)
        bounds, lowest, count = kernels.light_bounds(frame.world_position, frame.segmentation, axes, normals)
        if count == 0:
            continue
        height, width = frame.segmentation.shape
        view = LightView.fitted(axes, bounds, map_size((width, height)))
        skip = [int(world.uid_to_index[plane.uid]) for plane, low in zip(planes, lowest, strict=True)
                if cannot_shadow(plane, view, low)]
        jobs.append((i, view))
        parts.append((mesh.vertices_under(view.projection() @ pose), _drawn_faces(mesh, surf, skip)[1]))
    out = [np.zeros(f.segmentation.shape, np.float32) for f in frames]
    if not jobs:
        return out
    size, far = jobs[0][1].size, DISTANCE + 1.0
    near = DISTANCE - CASTER_RANGE - max(view.along_hi - view.along_lo for _, view in jobs)
    clip, faces, image = _stack(parts)
    hits = rasterize(clip[:, [0, 1, 3]], clip[:, 2], faces, image, len(jobs), size, size, near=near, far=far)
    for k, (i, view) in enumerate(jobs):
        _lookup(view, frames[i], hits.triangle[k], hits.depth[k], far, out[i])
    return out


def _lookup(view: LightView, frame: Frame, hit: np.ndarray, depth: np.ndarray, far: float, out: np.ndarray) -> None:
    """``frame``'s light visibility into ``out`` from its shadow map's ``hit``/``depth`` (empty texels read ``far``)."""
    axes = view.axes
    kernels.shadow_lookup(frame.world_position, frame.normals, frame.segmentation, hit, depth, far, axes,
                          axes[:2] @ view.centre, view.half, view.size, float(view.eye @ view.l_dir), view.texel, out)


def render_maps(views: Sequence[tuple[SceneMesh, Camera]], resolution: tuple[int, int], visibility: bool = True,
                sample: tuple[float, float] = TINY_SAMPLE) -> list[Frame]:
    """The condition maps of every ``(mesh, camera)`` view in its world's current state.

    Args:
        views: per view, the :class:`SceneMesh` of a world and a camera of it.
        resolution: (W, H) of every view.
        visibility: compute the light visibility (False leaves it at zeros).
        sample: where in each pixel it is sampled (x right, y down, in pixels).

    Returns:
        One :class:`Frame` per view, its ``rgb`` the albedo (as ``render_frame(..., passes="maps")``).
    """
    width, height = resolution
    meshes = [mesh for mesh, _ in views]
    poses = [mesh.shape_poses() for mesh in meshes]
    surfaces = [mesh.surfaces() for mesh in meshes]
    parts, drawn, cams = [], [], []
    for (mesh, camera), pose, surf in zip(views, poses, surfaces, strict=True):
        extr = extrinsics(camera)
        faces, triples = _drawn_faces(mesh, surf)
        matrix = gl_matrix(gl_projection(camera, (width, height))) @ gl_matrix(gl_view(extr))
        parts.append((mesh.vertices_under(matrix @ pose), triples))
        drawn.append(faces)
        cams.append((camera, intrinsics(camera, (width, height)), extr))
    clip, tri_faces, image = _stack(parts)
    near, far = min(c.near for c, _, _ in cams), max(c.far for c, _, _ in cams)
    hits = rasterize(clip[:, [0, 1, 3]], clip[:, 3], tri_faces, image, len(views), height, width, near=near,
                     far=far, sample=sample)
    starts = np.cumsum([0] + [len(f) for f in drawn])
    frames = [_frame(mesh, surf, hits, i, drawn[i], int(starts[i]), cam)
              for i, ((mesh, _), surf, cam) in enumerate(zip(views, surfaces, cams, strict=True))]
    if visibility:
        for frame, lit in zip(frames, _visibility(meshes, poses, surfaces, frames), strict=True):
            frame.light_visibility = lit
    return frames


def _frame(mesh: SceneMesh, surf: Surfaces, hits: Hits, i: int, faces: np.ndarray, start: int, cam) -> Frame:
    """View ``i``'s :class:`Frame` from the batch's hits (its triangles are ``start:`` of the batch)."""
    camera, intr, extr = cam
    shape = hits.triangle.shape[1:]
    triangle, seg = np.empty(shape, np.int64), np.empty(shape, np.int32)
    depth, material, pos = np.empty(shape, np.float32), np.empty(shape, np.int32), np.empty((*shape, 3), np.float32)
    kernels.geometry(hits.triangle[i], start, faces, mesh.face_body, hits.depth[i], mesh.world.material_ids,
                     EMPTY_MATERIAL_ID, intr[0, 0], intr[1, 1], intr[0, 2], intr[1, 2], extr[:3, :3], extr[:3, 3],
                     triangle, seg, depth, pos, material)
    albedo = _albedo(mesh, surf, triangle, hits.bary[i])
    normals = normals_from_positions(pos, seg, -extr[:3, :3].T @ extr[:3, 3])
    return Frame(albedo, albedo, seg, depth, normals, pos, material, intr, extr, np.zeros(seg.shape, np.float32))
