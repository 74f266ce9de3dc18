"""The compiled rasterizer against geometry: coverage, perspective-correct depth, the z-test."""

from __future__ import annotations

import numpy as np

from worldsim.scene.view import Camera
from worldsim.teacher.camera import extrinsics, gl_matrix, gl_projection, gl_view, intrinsics
from worldsim.teacher.raster import rasterize


def _soup(tris: np.ndarray, depth: np.ndarray, image: np.ndarray, batch: int, height: int, width: int, **kw):
    """:func:`rasterize` of separate triangles (T, 3, 3) with per-corner depths (T, 3)."""
    faces = np.arange(3 * len(tris)).reshape(-1, 3)
    return rasterize(tris.reshape(-1, 3), depth.reshape(-1), faces, image, batch, height, width, **kw)


def _ortho(pixels: np.ndarray, size: int) -> np.ndarray:
    """Clip-space (x, y, w=1) of points given in pixel units (x right, y down) of a ``size`` image."""
    x = pixels[..., 0] / size * 2 - 1
    y = 1 - pixels[..., 1] / size * 2
    return np.stack([x, y, np.ones_like(x)], -1)


def test_coverage_is_the_samples_inside_the_triangle():
    size = 32
    corners = np.array([[3.2, 2.7], [29.1, 11.4], [9.8, 30.2]])
    hits = _soup(_ortho(corners, size)[None], np.ones((1, 3)), np.zeros(1, np.int64), 1, size, size)
    cols, rows = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    a, b, c = corners

    def side(p, q):
        return (q[0] - p[0]) * (rows - p[1]) - (q[1] - p[1]) * (cols - p[0])

    inside = (side(a, b) >= 0) & (side(b, c) >= 0) & (side(c, a) >= 0)
    assert inside.sum() > 200
    np.testing.assert_array_equal(hits.triangle[0] == 0, inside)
    bary = hits.bary[0][inside]
    np.testing.assert_allclose(bary.sum(1), 1.0, atol=1e-5)
    # barycentrics give the sample back
    np.testing.assert_allclose(bary @ corners, np.stack([cols[inside], rows[inside]], 1), atol=1e-4)
    assert (hits.triangle[0][~inside] == -1).all() and (hits.depth[0][~inside] == 0).all()


def test_floor_through_the_camera_has_the_ray_plane_depth():
    """A floor whose corners lie behind the eye is drawn without clipping, at the exact depth."""
    camera = Camera(position=[0.0, 0.0, 1.0], target=[3.0, 0.0, 0.2], fov_deg=70, resolution=[48, 40], near=0.01, far=500)
    size = (48, 40)
    matrix = gl_matrix(gl_projection(camera, size)) @ gl_matrix(gl_view(extrinsics(camera)))
    corners = np.array([[-200, -200, 0, 1], [200, -200, 0, 1], [200, 200, 0, 1], [-200, 200, 0, 1]], float)
    clip = corners @ matrix.T
    assert (clip[:, 3] < 0).any(), "the test needs corners behind the eye"
    tris = clip[[[0, 1, 2], [0, 2, 3]]][..., [0, 1, 3]]
    hits = _soup(tris, tris[..., 2], np.zeros(2, np.int64), 1, size[1], size[0], near=camera.near, far=camera.far)
    intr, extr = intrinsics(camera, size), extrinsics(camera)
    cols, rows = np.meshgrid(np.arange(size[0]) + 0.5, np.arange(size[1]) + 0.5)
    rays = np.stack([(cols - intr[0, 2]) / intr[0, 0], (rows - intr[1, 2]) / intr[1, 1], np.ones_like(cols)], -1)
    world_dirs = rays @ extr[:3, :3]  # R^T d, per row vector
    t = -1.0 / world_dirs[..., 2]  # the eye is 1 m above the floor; view depth = t (d has z = 1)
    hit = np.asarray(camera.position) + t[..., None] * world_dirs
    down = (world_dirs[..., 2] < 0) & (t <= camera.far) & (np.abs(hit[..., :2]) < 200).all(-1)
    assert down.sum() > 500 and (~down).sum() > 100
    np.testing.assert_array_equal(hits.triangle[0] >= 0, down)
    np.testing.assert_allclose(hits.depth[0][down], t[down], rtol=1e-4)


def test_nearest_triangle_wins_in_any_order_and_ties_keep_the_first():
    size = 16
    square = np.array([[[1, 1], [15, 1], [15, 15]], [[1, 1], [15, 15], [1, 15]]], float)
    tris = np.concatenate([_ortho(square, size)] * 2)
    for near_first in (True, False):
        depth = np.array([[1.0] * 3, [1.0] * 3, [2.0] * 3, [2.0] * 3])
        if not near_first:
            depth = depth[::-1].copy()
        hits = _soup(tris, depth, np.zeros(4, np.int64), 1, size, size)
        covered = hits.triangle[0] >= 0
        assert covered.sum() > 150
        assert (hits.depth[0][covered] == 1.0).all()
    same = _soup(tris, np.ones((4, 3)), np.zeros(4, np.int64), 1, size, size)
    assert set(np.unique(same.triangle[0])) == {-1, 0, 1}


def test_images_of_a_batch_are_independent():
    size = 16
    tri = _ortho(np.array([[[2, 2], [14, 3], [5, 13]]], float), size)
    both = _soup(np.concatenate([tri, tri]), np.ones((2, 3)), np.array([0, 1]), 2, size, size)
    alone = _soup(tri, np.ones((1, 3)), np.zeros(1, np.int64), 1, size, size)
    np.testing.assert_array_equal(both.triangle[0], alone.triangle[0])
    np.testing.assert_array_equal(both.triangle[1] >= 0, alone.triangle[0] >= 0)
    assert (both.triangle[1][both.triangle[1] >= 0] == 1).all()
