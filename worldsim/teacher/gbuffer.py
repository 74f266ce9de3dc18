"""Per-pixel condition maps derived from depth and segmentation (numpy only).

``segmentation`` holds body indices (−1 for empty space). Depth, world position and normals are 0
where the segmentation is −1. Normals come from the world-position map by one-sided differences
that never cross an object boundary, so they are exactly the rendered geometry's (flat faces are
exact; curved surfaces are faceted at the pixel scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.materials import EMPTY_MATERIAL_ID
from worldsim.teacher.camera import unproject


@dataclass
class Frame:
    """One camera frame: reference RGB and every condition map, with the camera that made it."""

    rgb: np.ndarray  # (H, W, 3) uint8, lit, with shadows
    albedo: np.ndarray  # (H, W, 3) uint8, unlit colour with textures
    segmentation: np.ndarray  # (H, W) int32 body index, -1 empty
    depth: np.ndarray  # (H, W) float32 metres along the camera axis
    normals: np.ndarray  # (H, W, 3) float32 world frame, unit length
    world_position: np.ndarray  # (H, W, 3) float32
    material: np.ndarray  # (H, W) int32 global material id, 0 empty
    intrinsics: np.ndarray  # (3, 3)
    extrinsics: np.ndarray  # (4, 4) world -> camera, OpenCV
    light_visibility: np.ndarray  # (H, W) float32: 1 lit, 0 in shadow (from the shadow map), 0 empty


def _one_sided(pos: np.ndarray, seg: np.ndarray, axis: int) -> np.ndarray:
    """Finite difference along ``axis`` (0 rows, 1 columns) preferring the neighbour on the same object.

    Each pixel's forward step is the next pixel's backward step, so the differences, their lengths
    and the same-object tests are computed once on the ``n - 1`` pairs and read through two views.
    """
    n = pos.shape[axis]

    def pairs(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
        return a[lo:hi] if axis == 0 else a[:, lo:hi]

    step = pairs(pos, 1, n) - pairs(pos, 0, n - 1)  # pair i: pixel i's forward, pixel i+1's backward step
    same = pairs(seg, 1, n) == pairs(seg, 0, n - 1)
    length = np.einsum("...k,...k->...", step, step)  # squared: only compared
    out = np.zeros_like(pos)
    # Backward first, then forward where it is on the same object and, if the backward one is too,
    # no longer (the other may span a depth discontinuity inside one object, e.g. a self-occluding mesh).
    np.copyto(pairs(out, 1, n), step, where=same[..., None])
    use_fwd = same.copy()
    pairs(use_fwd, 1, n - 1)[...] &= ~pairs(same, 0, n - 2) | (pairs(length, 1, n - 1) <= pairs(length, 0, n - 2))
    np.copyto(pairs(out, 0, n - 1), step, where=use_fwd[..., None])
    return out


def normals_from_positions(pos: np.ndarray, seg: np.ndarray, camera_position: np.ndarray) -> np.ndarray:
    """Unit world-frame normals facing the camera, (H, W, 3); zero where undefined."""
    du = _one_sided(pos, seg, axis=1)
    dv = _one_sided(pos, seg, axis=0)
    n = np.empty_like(pos)  # du × dv, by components (np.cross moves axes and copies)
    n[..., 0] = du[..., 1] * dv[..., 2] - du[..., 2] * dv[..., 1]
    n[..., 1] = du[..., 2] * dv[..., 0] - du[..., 0] * dv[..., 2]
    n[..., 2] = du[..., 0] * dv[..., 1] - du[..., 1] * dv[..., 0]
    norm = np.sqrt(np.einsum("...k,...k->...", n, n))[..., None]
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 1e-12)
    facing = np.einsum("...k,...k->...", n, camera_position.astype(pos.dtype) - pos)
    n *= np.where(facing < 0, -1.0, 1.0).astype(n.dtype)[..., None]
    n[seg < 0] = 0.0
    return n.astype(np.float32)


def derive_maps(depth: np.ndarray, seg: np.ndarray, material_lut: np.ndarray, intr: np.ndarray,
                extr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Depth (0 where empty), world positions, normals and material ids from depth and segmentation."""
    empty = seg < 0
    depth = np.where(empty, 0.0, depth).astype(np.float32)
    pos = unproject(depth, intr, extr)
    pos[empty] = 0.0
    cam_pos = -extr[:3, :3].T @ extr[:3, 3]
    normals = normals_from_positions(pos, seg, cam_pos)
    material = np.where(empty, EMPTY_MATERIAL_ID, material_lut[np.clip(seg, 0, None)]).astype(np.int32)
    return depth, pos, normals, material
