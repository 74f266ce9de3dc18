"""Compiled per-pixel loops of the map pass (:mod:`worldsim.teacher.maps`), one pass over the pixels each.

At 64² a frame has 4,096 pixels, and each numpy call on arrays that small costs about as much in
setup as in arithmetic: the geometry maps and the shadow lookup written as numpy took ~1.6 ms of an
env's 3.5 ms map pass in ~60 calls. Here each is one loop, and every loop releases the GIL.

Each kernel computes what its numpy counterpart computes (:func:`worldsim.teacher.gbuffer.derive_maps`,
:func:`worldsim.teacher.shadows.fit_light_view` and :func:`~worldsim.teacher.shadows.lookup`), in the
same precision and order: the maps are bit-identical to the numpy pass's (checked on four scenes at
64² to 200×208); ``tests/teacher/test_map_kernels.py`` holds each kernel to its counterpart.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def geometry(hit, start, drawn, face_body, zdepth, material_lut, empty_material, fx, fy, cx, cy, rot, trans,
             triangle, seg, depth, pos, material):  # pragma: no cover
    """One view's geometry maps from its rasterized hits.

    Args:
        hit: (H, W) the batch triangle each pixel sees (-1: none); this view's are ``start:`` of the batch.
        drawn: the mesh's face index of each of this view's batch triangles.
        face_body, material_lut: body of each mesh face; material id of each body.
        zdepth: (H, W) the interpolated view depth.
        fx, fy, cx, cy: intrinsics; rot, trans: the world-to-camera rotation (3, 3) and translation (3,).
        triangle, seg, depth, pos, material: outputs (H, W) int64, int32, float32, (H, W, 3) float32, int32:
            the mesh face (-1), body (-1), depth (0), world position (0) and material id where empty.
    """
    height, width = hit.shape
    for i in range(height):
        for j in range(width):
            t = hit[i, j]
            if t < 0:
                triangle[i, j], seg[i, j], depth[i, j], material[i, j] = -1, -1, 0.0, empty_material
                pos[i, j, 0], pos[i, j, 1], pos[i, j, 2] = 0.0, 0.0, 0.0
                continue
            face = drawn[t - start]
            body = face_body[face]
            triangle[i, j], seg[i, j], material[i, j] = face, body, material_lut[body]
            d = zdepth[i, j]
            depth[i, j] = d
            # unproject the pixel centre, then R^T (p - t): camera to world
            c0 = (j + 0.5 - cx) / fx * d - trans[0]
            c1 = (i + 0.5 - cy) / fy * d - trans[1]
            c2 = d - trans[2]
            for k in range(3):
                pos[i, j, k] = c0 * rot[0, k] + c1 * rot[1, k] + c2 * rot[2, k]


@numba.njit(cache=True, nogil=True)
def light_bounds(pos, seg, axes, plane_normals):  # pragma: no cover
    """Over the pixels showing a surface: the range of ``axes (3, 3) @ position`` (rows: across, across,
    along the sun) as ``(3, 2)`` [min, max], the lowest ``normal · position`` per plane normal
    ``(P, 3)``, and the number of such pixels."""
    height, width = seg.shape
    bounds = np.empty((3, 2))
    bounds[:, 0], bounds[:, 1] = np.inf, -np.inf
    lowest = np.full(plane_normals.shape[0], np.inf)
    count = 0
    for i in range(height):
        for j in range(width):
            if seg[i, j] < 0:
                continue
            count += 1
            p0, p1, p2 = np.float64(pos[i, j, 0]), np.float64(pos[i, j, 1]), np.float64(pos[i, j, 2])
            for a in range(3):
                v = axes[a, 0] * p0 + axes[a, 1] * p1 + axes[a, 2] * p2
                bounds[a, 0], bounds[a, 1] = min(bounds[a, 0], v), max(bounds[a, 1], v)
            for k in range(plane_normals.shape[0]):
                lowest[k] = min(lowest[k], plane_normals[k, 0] * p0 + plane_normals[k, 1] * p1 + plane_normals[k, 2] * p2)
    return bounds, lowest, count


@numba.njit(cache=True, nogil=True)
def shadow_lookup(pos, normals, seg, map_hit, map_depth, far, axes, offsets, half, size, eye_along, texel,
                  out):  # pragma: no cover
    """Per pixel showing a surface, 1.0 where the sun reaches it, else 0.0 (see :func:`worldsim.teacher.shadows.lookup`).

    Args:
        pos, normals, seg: the view's world positions, normals (H, W, 3) and bodies (H, W).
        map_hit, map_depth: the shadow map's (size, size) hits (-1: empty, read as ``far``) and
            distances along the sun from its eye.
        axes: (3, 3) rows right, up, towards the sun; offsets: ``axes[:2] @ centre``.
        half, size, eye_along: the map's half extent, side in texels and ``eye · l_dir``.
        texel: the map's texel size.
        out: (H, W) float32, written where a surface is seen.
    """
    height, width = seg.shape
    l32 = axes[2].astype(np.float32)
    lift = np.float32(1.5 * texel)  # float32, as numpy scales the float32 normals
    for i in range(height):
        for j in range(width):
            if seg[i, j] < 0:
                continue
            n0, n1, n2 = normals[i, j, 0], normals[i, j, 1], normals[i, j, 2]
            # normal offset: a texel and a half off the surface and half a texel towards the sun (no acne)
            q0 = np.float64(pos[i, j, 0]) + lift * n0 + 0.5 * texel * axes[2, 0]
            q1 = np.float64(pos[i, j, 1]) + lift * n1 + 0.5 * texel * axes[2, 1]
            q2 = np.float64(pos[i, j, 2]) + lift * n2 + 0.5 * texel * axes[2, 2]
            across_r = axes[0, 0] * q0 + axes[0, 1] * q1 + axes[0, 2] * q2
            across_u = axes[1, 0] * q0 + axes[1, 1] * q1 + axes[1, 2] * q2
            along = axes[2, 0] * q0 + axes[2, 1] * q1 + axes[2, 2] * q2
            col = min(max(int(((across_r - offsets[0]) / half + 1) * 0.5 * size), 0), size - 1)
            row = min(max(int((1 - (across_u - offsets[1]) / half) * 0.5 * size), 0), size - 1)
            blocker = map_depth[row, col] if map_hit[row, col] >= 0 else far
            facing = l32[0] * n0 + l32[1] * n1 + l32[2] * n2 > -0.1  # else in its own (attached) shadow
            out[i, j] = 1.0 if (eye_along - along <= blocker + texel) and facing else 0.0
