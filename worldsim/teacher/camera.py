"""Pinhole camera geometry in numpy: intrinsics, extrinsics, projection and unprojection.

Conventions: ``extrinsics`` map world to camera in the **OpenCV** convention (x right, y down,
z forward); pixel ``(row i, column j)`` covers ``u in [j, j+1)``, ``v in [i, i+1)``, so its centre
is ``(j + 0.5, i + 0.5)``. PyBullet wants OpenGL matrices; :func:`gl_view` and
:func:`gl_projection` give them, flattened column-major as ``getCameraImage`` expects.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only a type here: unproject must load without the scene package (pydantic, yaml)
    from worldsim.scene.view import Camera

_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion in xyzw order."""
    x, y, z, w = np.asarray(q, dtype=float) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def intrinsics(camera: Camera, resolution: tuple[int, int] | None = None) -> np.ndarray:
    """The 3x3 matrix K for ``resolution`` (W, H); square pixels, vertical field of view."""
    width, height = resolution or camera.resolution
    fy = (height / 2.0) / math.tan(math.radians(camera.fov_deg) / 2.0)
    return np.array([[fy, 0.0, width / 2.0], [0.0, fy, height / 2.0], [0.0, 0.0, 1.0]])


def _pose_key(camera: Camera) -> tuple:
    """The camera's pose as a hashable value: (position, target, orientation, up), each a tuple or None.
    A camera is a mutable model, so results are remembered by value, not by object."""
    def as_tuple(v):
        return None if v is None else tuple(float(x) for x in v)

    return as_tuple(camera.position), as_tuple(camera.target), as_tuple(camera.orientation), as_tuple(camera.up)


@functools.lru_cache(maxsize=256)  # an env draws the same few cameras every step: ~0.2 ms a view saved
def _world_to_camera(position: tuple, target: tuple | None, orientation: tuple | None, up: tuple) -> np.ndarray:
    if orientation is not None:
        rot = quat_to_matrix(np.asarray(orientation))
    else:
        eye = np.asarray(position)
        forward = (np.asarray(target) - eye) / np.linalg.norm(np.asarray(target) - eye)
        up_ = np.asarray(up, dtype=float)
        if np.linalg.norm(np.cross(forward, up_)) < 1e-6:  # looking straight along `up`: pick another
            up_ = np.array([0.0, 1.0, 0.0]) if abs(forward[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
        right = np.cross(forward, up_)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rot = np.stack([right, down, forward], axis=1)
    out = np.eye(4)
    out[:3, :3] = rot.T
    out[:3, 3] = -rot.T @ np.asarray(position, dtype=float)
    out.flags.writeable = False  # shared by every caller: they get copies
    return out


def camera_to_world_rotation(camera: Camera) -> np.ndarray:
    """Columns are the camera's x (right), y (down), z (forward) axes in world coordinates."""
    return _world_to_camera(*_pose_key(camera))[:3, :3].T.copy()


def extrinsics(camera: Camera) -> np.ndarray:
    """The 4x4 world-to-camera matrix (OpenCV convention)."""
    return _world_to_camera(*_pose_key(camera)).copy()


def gl_view(extr: np.ndarray) -> list[float]:
    """PyBullet's view matrix (OpenGL, column-major) for OpenCV extrinsics."""
    return (_CV_TO_GL @ extr).T.reshape(-1).tolist()


def gl_matrix(matrix) -> np.ndarray:
    """A 4x4 numpy matrix from PyBullet's flattened column-major one (:func:`gl_view`, :func:`gl_projection`,
    ``computeViewMatrix``...)."""
    return np.asarray(matrix, dtype=np.float64).reshape(4, 4).T


def gl_projection(camera: Camera, resolution: tuple[int, int]) -> list[float]:
    """PyBullet's projection matrix (what ``computeProjectionMatrixFOV`` returns)."""
    width, height = resolution
    near, far = camera.near, camera.far
    y_scale = 1.0 / math.tan(math.radians(camera.fov_deg) / 2.0)
    x_scale = y_scale / (width / height)
    return [x_scale, 0, 0, 0, 0, y_scale, 0, 0, 0, 0, (near + far) / (near - far), -1,
            0, 0, 2 * near * far / (near - far), 0]


def transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Row vectors ``points (..., k)`` times ``matrix (k, m)``, without BLAS.

    The map pass multiplies thousands of points by 3×3 or 4×4 matrices. OpenBLAS threads such
    small products and, on a 2-core machine with another busy process, spins: a 64² shadow lookup
    took 19 ms threaded and 6 ms in one thread. ``einsum`` (not optimized) never calls BLAS.
    """
    return np.einsum("...k,km->...m", points, matrix)


def project(points: np.ndarray, intr: np.ndarray, extr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points (N, 3) to pixel coordinates (N, 2) as (u, v); also returns depths (N,)."""
    homo = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    cam = transform(homo, extr.T)[:, :3]
    uv = transform(cam, intr.T)
    return uv[:, :2] / uv[:, 2:3], cam[:, 2]


def linear_depth(zbuffer: np.ndarray, near: float, far: float) -> np.ndarray:
    """OpenGL depth-buffer values in [0, 1] → metric depth along the camera axis."""
    return (far * near / (far - (far - near) * zbuffer)).astype(np.float32)


def unproject(depth: np.ndarray, intr: np.ndarray, extr: np.ndarray) -> np.ndarray:
    """World positions (H, W, 3) of every pixel centre at the given metric depth (H, W)."""
    height, width = depth.shape
    u = np.arange(width) + 0.5
    v = np.arange(height) + 0.5
    uu, vv = np.meshgrid(u, v)
    x = (uu - intr[0, 2]) / intr[0, 0] * depth
    y = (vv - intr[1, 2]) / intr[1, 1] * depth
    cam = np.stack([x, y, depth], axis=-1)
    rot, trans = extr[:3, :3], extr[:3, 3]
    return transform(cam - trans, rot).astype(np.float32)  # R^T (p - t), written for row vectors
