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
    """Finite difference along ``axis`` preferring the neighbour on the same object."""
    fwd = np.roll(pos, -1, axis=axis) - pos
    bwd = pos - np.roll(pos, 1, axis=axis)
    same_fwd = np.roll(seg, -1, axis=axis) == seg
    same_bwd = np.roll(seg, 1, axis=axis) == seg
    n = pos.shape[axis]
    edge = [slice(None)] * 2
    edge[axis] = n - 1
    same_fwd[tuple(edge)] = False
    edge[axis] = 0
    same_bwd[tuple(edge)] = False
    # Where both neighbours are on the same object, take the shorter step (the other may span a
    # depth discontinuity inside one object, e.g. a self-occluding mesh).
    use_fwd = same_fwd & (~same_bwd | (np.linalg.norm(fwd, axis=-1) <= np.linalg.norm(bwd, axis=-1)))
    out = np.where(use_fwd[..., None], fwd, np.where(same_bwd[..., None], bwd, 0.0))
    return out


def normals_from_positions(pos: np.ndarray, seg: np.ndarray, camera_position: np.ndarray) -> np.ndarray:
    """Unit world-frame normals facing the camera, (H, W, 3); zero where undefined."""
    du = _one_sided(pos, seg, axis=1)
    dv = _one_sided(pos, seg, axis=0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 1e-12)
    facing = np.sum(n * (camera_position - pos), axis=-1, keepdims=True)
    n = np.where(facing < 0, -n, n)
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
