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
    n = xyw.shape[0]
    half_w, half_h = 0.5 * width, 0.5 * height
    off_x, off_y = half_w - sample_x, half_h - sample_y
    # Per vertex, once (a vertex is shared by ~6 triangles): its column of M, the screen coordinates in
    # sample units (column j's sample at x = j) with the viewport folded in, (x·w, y·w, w); and, in front
    # of the eye, where it projects.
    mx, my, sx, sy = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for v in range(n):
        w = xyw[v, 2]
        mx[v] = xyw[v, 0] * half_w + w * off_x
        my[v] = xyw[v, 1] * (-half_h) + w * off_y
        sx[v], sy[v] = (mx[v] / w, my[v] / w) if w > 1e-9 else (np.nan, np.nan)
    for t in range(faces.shape[0]):
        i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
        w0, w1, w2 = xyw[i0, 2], xyw[i1, 2], xyw[i2, 2]
        if w0 > 1e-9 and w1 > 1e-9 and w2 > 1e-9:  # bounding box of the projected vertices
            x0 = max(int(np.ceil(min(sx[i0], min(sx[i1], sx[i2])))), 0)
            x1 = min(int(np.floor(max(sx[i0], max(sx[i1], sx[i2])))), width - 1)
            y0 = max(int(np.ceil(min(sy[i0], min(sy[i1], sy[i2])))), 0)
            y1 = min(int(np.floor(max(sy[i0], max(sy[i1], sy[i2])))), height - 1)
        else:  # a vertex behind the eye projects unboundedly: scan the whole image
            x0, x1, y0, y1 = 0, width - 1, 0, height - 1
        if x0 > x1 or y0 > y1:
            continue
        m00, m01, m02, m10, m11, m12 = mx[i0], mx[i1], mx[i2], my[i0], my[i1], my[i2]
        # adjugate of M = [[m0*], [m1*], [w*]]: unnormalised barycentrics are adj(M) @ (x, y, 1) / det(M)
        a0, a1, a2 = m11 * w2 - m12 * w1, m02 * w1 - m01 * w2, m01 * m12 - m02 * m11
        b0, b1, b2 = m12 * w0 - m10 * w2, m00 * w2 - m02 * w0, m02 * m10 - m00 * m12
        c0, c1, c2 = m10 * w1 - m11 * w0, m01 * w0 - m00 * w1, m00 * m11 - m01 * m10
        det = m00 * a0 + m01 * b0 + m02 * c0
        if abs(det) < 1e-30:
            continue
        d0, d1, d2 = depth[i0], depth[i1], depth[i2]
        positive = det > 0.0
        base = image[t] * height * width
        for row in range(y0, y1 + 1):
            for col in range(x0, x1 + 1):
                e0, e1, e2 = a0 * col + a1 * row + a2, b0 * col + b1 * row + b2, c0 * col + c1 * row + c2
                # the signs of e / det, decided before dividing: most samples of small triangles miss
                if positive:
                    if e0 < 0.0 or e1 < 0.0 or e2 < 0.0:
                        continue
                elif e0 > 0.0 or e1 > 0.0 or e2 > 0.0:
                    continue
                l0, l1, l2 = e0 / det, e1 / det, e2 / det
                total = l0 + l1 + l2
                if l0 < 0.0 or l1 < 0.0 or l2 < 0.0 or total <= 0.0:
                    continue
                l0, l1, l2 = l0 / total, l1 / total, l2 / total
                z = l0 * d0 + l1 * d1 + l2 * d2
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
