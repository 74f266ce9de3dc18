"""A triangle rasterizer for many images at once: per pixel, the nearest triangle and where on it.

TinyRenderer draws one image per call, with a lighting pipeline and a copy of every buffer; for the
learned renderer's maps of eight 64² env cameras it cost ~4 ms per image plus ~3.5 ms for its shadow
map. This rasterizer takes every triangle of a batch of images in one compiled loop (numba):

* 2D homogeneous rasterization (Olano & Greer, 1997): each triangle's clip-space ``x, y, w`` give,
  per sample, perspective-correct barycentrics by one 3×3 product, with no near-plane clipping (a
  floor that passes behind the camera is drawn correctly; such a triangle scans the whole image);
* a z-buffer over the interpolated ``depth``; ties keep the earlier triangle, so the result is
  deterministic.

Triangles are two-sided, as in TinyRenderer. A torch version of the same algorithm (vectorised over
candidate samples) measured 1.5× slower than TinyRenderer on 2 cores; compiled, the loop costs a
fraction of a millisecond per 64² image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass
class Hits:
    """What each pixel of a batch of images sees."""

    triangle: np.ndarray  # (B, H, W) int64: index into the triangles given, -1 where empty
    bary: np.ndarray  # (B, H, W, 3) float32 perspective-correct barycentrics (0 where empty)
    depth: np.ndarray  # (B, H, W) float32 interpolated depth attribute (0 where empty)


@numba.njit(cache=True, nogil=True)
def _draw(xyw, depth, faces, image, height, width, near, far, sample_x, sample_y, zbuf, triangle, bary):  # pragma: no cover
    """The compiled loop over triangles; see :func:`rasterize`."""
    m = np.empty((3, 3))
    d = np.empty(3)
    for t in range(faces.shape[0]):
        # Screen coordinates in sample units (column j's sample at x = j): fold the viewport into M,
        # whose columns are the vertices' (x·w, y·w, w).
        ahead = True
        for v in range(3):
            i = faces[t, v]
            w = xyw[i, 2]
            m[0, v] = xyw[i, 0] * (0.5 * width) + w * (0.5 * width - sample_x)
            m[1, v] = xyw[i, 1] * (-0.5 * height) + w * (0.5 * height - sample_y)
            m[2, v] = w
            d[v] = depth[i]
            ahead = ahead and w > 1e-9
        if ahead:  # bounding box of the projected vertices
            lo_x, hi_x, lo_y, hi_y = np.inf, -np.inf, np.inf, -np.inf
            for v in range(3):
                sx, sy = m[0, v] / m[2, v], m[1, v] / m[2, v]
                lo_x, hi_x, lo_y, hi_y = min(lo_x, sx), max(hi_x, sx), min(lo_y, sy), max(hi_y, sy)
            x0, x1 = max(int(np.ceil(lo_x)), 0), min(int(np.floor(hi_x)), width - 1)
            y0, y1 = max(int(np.ceil(lo_y)), 0), min(int(np.floor(hi_y)), height - 1)
        else:  # a vertex behind the eye projects unboundedly: scan the whole image
            x0, x1, y0, y1 = 0, width - 1, 0, height - 1
        if x0 > x1 or y0 > y1:
            continue
        # adjugate of M: unnormalised barycentrics are adj(M) @ (x, y, 1) / det(M)
        a0 = m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]
        a1 = m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2]
        a2 = m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]
        b0 = m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2]
        b1 = m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0]
        b2 = m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]
        c0 = m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]
        c1 = m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1]
        c2 = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        det = m[0, 0] * a0 + m[0, 1] * b0 + m[0, 2] * c0
        if abs(det) < 1e-30:
            continue
        base = image[t] * height * width
        for row in range(y0, y1 + 1):
            for col in range(x0, x1 + 1):
                l0 = (a0 * col + a1 * row + a2) / det
                l1 = (b0 * col + b1 * row + b2) / det
                l2 = (c0 * col + c1 * row + c2) / det
                total = l0 + l1 + l2
                if l0 < 0.0 or l1 < 0.0 or l2 < 0.0 or total <= 0.0:
                    continue
                l0, l1, l2 = l0 / total, l1 / total, l2 / total
                z = l0 * d[0] + l1 * d[1] + l2 * d[2]
                pixel = base + row * width + col
                if z < near or z > far or z >= zbuf[pixel]:
                    continue
                zbuf[pixel] = z
                triangle[pixel] = t
                bary[pixel, 0], bary[pixel, 1], bary[pixel, 2] = l0, l1, l2


def rasterize(xyw: np.ndarray, depth: np.ndarray, faces: np.ndarray, image: np.ndarray, batch: int, height: int,
              width: int, near: float = 0.0, far: float = np.inf, sample: tuple[float, float] = (0.5, 0.5)) -> Hits:
    """Rasterize an indexed triangle mesh given in clip space into ``batch`` images.

    Args:
        xyw: (V, 3) per vertex, clip-space ``x, y, w`` (OpenGL: NDC x = x/w runs left to right,
            NDC y = y/w bottom to top). An orthographic view has ``w = 1``.
        depth: (V,) the per-vertex depth the z-test compares (the view depth ``w`` for a
            perspective camera, the distance along the view axis for an orthographic one).
        faces: (T, 3) vertex indices of each triangle.
        image: (T,) which image each triangle is drawn into.
        batch, height, width: the images' count and size.
        near, far: depths outside this range are not drawn.
        sample: where in its pixel each pixel is sampled, (x right, y down) in pixels.

    Returns:
        :class:`Hits`, whose ``triangle`` indexes ``faces``.
    """
    n_pixels = batch * height * width
    zbuf = np.full(n_pixels, np.inf)
    triangle = np.full(n_pixels, -1, dtype=np.int64)
    bary = np.zeros((n_pixels, 3))
    _draw(np.ascontiguousarray(xyw, np.float64), np.ascontiguousarray(depth, np.float64),
          np.ascontiguousarray(faces, np.int64), np.ascontiguousarray(image, np.int64), height, width,
          float(near), float(far), float(sample[0]), float(sample[1]), zbuf, triangle, bary)
    shape = (batch, height, width)
    return Hits(triangle.reshape(shape), bary.astype(np.float32).reshape(*shape, 3),
                np.where(triangle >= 0, zbuf, 0.0).astype(np.float32).reshape(shape))
