"""Light visibility from a shadow map: one rasterized depth image seen from the sun.

The learned renderer is told, per pixel, whether the sun reaches the surface (the hard shadow the
geometry casts), so its capacity goes to how shadows look, not where they are. Casting one ray per
pixel grows with the pixel count and ran at about 27 ms at 64² (430 ms at 256²); a shadow map costs
one TinyRenderer depth pass whose size follows the image, plus a vectorised lookup.

The sun is a directional light. TinyRenderer only rasterizes perspective projections, so the map
is drawn from a point ``DISTANCE`` metres towards the sun with a field of view just wide enough for
the visible receivers: its rays diverge by at most ``extent / DISTANCE`` radians (0.2° for a 3 m
scene), a shadow displacement well under a pixel at the resolutions we render. The map is fitted
to the receivers the camera sees each frame, so no texel is spent on geometry nobody looks at.

A plane (a floor, a wall) shadows only what lies behind it as seen from the sun. When every
receiver is on its sunny side the plane is left out of the map: the floor otherwise fills most of
the map's texels, and TinyRenderer pays per texel (PandaPush at 64²: the pass drops by about a
third, with the same visibility).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from worldsim.teacher.camera import gl_matrix, linear_depth

DISTANCE = 1000.0  # metres from the receivers' centre to the map's eye
CASTER_RANGE = 50.0  # casters this far towards the sun from the receivers still shadow them
SCALE = 1.0  # shadow-map texels per image pixel along the longer side (1.0: ≥ 98 % agreement with rays)
# 96, not 128, at the bottom: for a 64² env observation of the Panda the map pass drops from 10.3 to
# 8.4 ms and 0.5 % of pixels change visibility (measured in the session of issue 15)
MIN_SIZE, MAX_SIZE = 96, 1024


@dataclass(frozen=True)
class Plane:
    """A static plane body: its PyBullet uid, a point on it and its unit normal (world frame)."""

    uid: int
    point: np.ndarray
    normal: np.ndarray


def world_planes(world) -> list[Plane]:
    """The plane bodies of a :class:`~worldsim.physics.world.PhysicsWorld` (their normal is the body's +z)."""
    from worldsim.scene.schema import PlaneBody

    out = []
    for body, built in zip(world.spec.bodies, world.bodies, strict=True):
        if isinstance(body, PlaneBody):
            position, quaternion = pb.getBasePositionAndOrientation(built.uid, physicsClientId=world.client)
            normal = np.asarray(pb.getMatrixFromQuaternion(quaternion), np.float64).reshape(3, 3)[:, 2]
            out.append(Plane(built.uid, np.asarray(position, np.float64), normal))
    return out


def cannot_shadow(plane: Plane, view: LightView, lowest: float) -> bool:
    """True when the sun is on the plane's front side and no receiver lies more than the acne offset
    behind it (``lowest``: the receivers' least ``plane.normal · position``): nothing the camera sees
    can then be in the plane's shadow. Receivers within that offset below the plane count as on it
    (their probes are lifted off anyway)."""
    if float(plane.normal @ view.l_dir) <= 0.0:
        return False
    return bool(lowest - float(plane.normal @ plane.point) >= -2.0 * view.texel)


@contextlib.contextmanager
def _hidden(client: int, planes: Sequence[Plane]) -> Iterator[None]:
    """Draw nothing of ``planes`` inside the block: TinyRenderer skips a shape of zero alpha. Their
    colours are read at entry and put back on exit, whatever happens inside."""
    saved = [(plane.uid, shape[1], list(shape[7])) for plane in planes
             for shape in pb.getVisualShapeData(plane.uid, physicsClientId=client)]
    try:
        for uid, link, rgba in saved:
            pb.changeVisualShape(uid, link, rgbaColor=rgba[:3] + [0.0], physicsClientId=client)
        yield
    finally:
        for uid, link, rgba in saved:
            pb.changeVisualShape(uid, link, rgbaColor=rgba, physicsClientId=client)


def map_size(image_size: tuple[int, int], scale: float = SCALE) -> int:
    """The shadow map's side for an image of ``image_size`` (W, H)."""
    return int(np.clip(round(scale * max(image_size)), MIN_SIZE, MAX_SIZE))


def _light_frame(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane perpendicular to ``direction`` (right, up)."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(direction[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    right = np.cross(helper, direction)
    right /= np.linalg.norm(right)
    return right, np.cross(direction, right)


def _rows(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``matrix (m, 3)`` times each of ``points (N, 3)`` as ``(m, N)`` rows; einsum, so no BLAS threads
    (see :func:`worldsim.teacher.camera.transform`)."""
    return np.einsum("mk,nk->mn", matrix, points)


@dataclass(frozen=True)
class LightView:
    """A square shadow map fitted to the receivers a camera sees: the sun's frame and the map's extent.

    ``right``, ``up``, ``l_dir`` are the sun's axes; the map spans ``[-half, half]`` about ``centre``
    across the sun and records, per texel, the distance along ``l_dir`` back from ``eye``."""

    right: np.ndarray
    up: np.ndarray
    l_dir: np.ndarray
    centre: np.ndarray  # the map's middle, level (along the sun) with the receiver farthest from it
    half: float
    size: int
    along_lo: float
    along_hi: float

    @property
    def texel(self) -> float:
        return 2.0 * self.half / self.size

    @property
    def eye(self) -> np.ndarray:
        return self.centre + self.l_dir * DISTANCE

    @property
    def axes(self) -> np.ndarray:
        """(3, 3) rows: right, up, towards the sun."""
        return np.stack([self.right, self.up, self.l_dir])

    def projection(self) -> np.ndarray:
        """The orthographic map's projection (4, 4): rows x, y across the sun in [-1, 1], then the
        distance from the map's eye along the sun (the depth the z-test compares), then w = 1."""
        m = np.zeros((4, 4))
        m[0, :3], m[0, 3] = self.right / self.half, -(self.right @ self.centre) / self.half
        m[1, :3], m[1, 3] = self.up / self.half, -(self.up @ self.centre) / self.half
        m[2, :3], m[2, 3] = -self.l_dir, self.eye @ self.l_dir
        m[3, 3] = 1.0
        return m

    @classmethod
    def fitted(cls, axes: np.ndarray, bounds: np.ndarray, size: int) -> LightView:
        """The map of ``size`` texels over receivers whose coordinates along ``axes`` (:func:`light_axes`)
        span ``bounds (3, 2)`` [min, max] (:func:`fit_light_view` from points; the map pass from pixels)."""
        right, up, l_dir = axes
        lo, hi = bounds[:2, 0], bounds[:2, 1]
        half = 0.5 * float((hi - lo).max()) * (1 + 4.0 / size) + 1e-3  # a two-texel margin
        along_lo, along_hi = float(bounds[2, 0]), float(bounds[2, 1])
        centre = right * (0.5 * (lo[0] + hi[0])) + up * (0.5 * (lo[1] + hi[1])) + l_dir * along_lo
        return cls(right, up, l_dir, centre, half, size, along_lo, along_hi)


def light_axes(direction) -> np.ndarray:
    """The sun's frame as rows (3, 3): right and up across the sun, then the unit direction towards it
    (read-only: shared by every frame with the same sun)."""
    return _light_axes(tuple(float(x) for x in direction))


@functools.lru_cache(maxsize=64)
def _light_axes(direction: tuple[float, ...]) -> np.ndarray:
    l_dir = np.asarray(direction, dtype=np.float64)
    l_dir = l_dir / np.linalg.norm(l_dir)
    right, up = _light_frame(l_dir)
    out = np.stack([right, up, l_dir])
    out.flags.writeable = False
    return out


def fit_light_view(direction, points: np.ndarray, size: int) -> LightView:
    """The map of ``size`` texels covering ``points (N, 3)`` (the visible receivers) as seen from the sun."""
    axes = light_axes(direction)
    light_axes_of_points = _rows(axes, points)  # across, across, along the sun
    bounds = np.stack([light_axes_of_points.min(axis=1), light_axes_of_points.max(axis=1)], axis=1)
    return LightView.fitted(axes, bounds, size)


def receivers(pos: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat indices of the pixels showing a surface, and their world positions as float64 (N, 3)."""
    index = np.flatnonzero(seg.reshape(-1) >= 0)
    return index, pos.reshape(-1, 3)[index].astype(np.float64)


def idle_planes(view: LightView, points: np.ndarray, planes: Sequence[Plane]) -> list[Plane]:
    """The planes that cannot shadow any receiver (``points (N, 3)``), so the map leaves them out."""
    return [plane for plane in planes if cannot_shadow(plane, view, float(_rows(plane.normal[None], points)[0].min()))]


def lookup(view: LightView, texel_of, depth_map: np.ndarray, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Per receiver, 1.0 where the sun reaches it and 0.0 where the map holds something nearer the sun.

    Args:
        view: the fitted map.
        texel_of: ``probe (N, 3) -> (col, row, distance)``: where a point falls in the map and how far
            it is from the map's eye along the sun, in the map's own projection.
        depth_map: (size, size) distances along the sun from the eye (far where empty).
        points, normals: the receivers (N, 3) and their world normals.
    """
    texel, l_dir = view.texel, view.l_dir
    # Normal offset: move each receiver a texel and a half off its surface (and towards the sun) so a
    # lit surface never shadows itself through the map's discretisation ("shadow acne").
    probe = points + 1.5 * texel * normals + 0.5 * texel * l_dir
    col, row, distance = texel_of(probe)
    col = np.clip(col.astype(int), 0, view.size - 1)
    row = np.clip(row.astype(int), 0, view.size - 1)
    # A surface turned away from the sun is in its own (attached) shadow; the map alone cannot tell for
    # a one-sided wall, whose two faces lie at the same depth from the sun.
    # not 0: pixel normals are finite differences, noisy at the terminator
    facing = _rows(l_dir.astype(np.float32)[None], normals)[0] > -0.1
    return ((distance <= depth_map[row, col] + texel) & facing).astype(np.float32)


def light_visibility(client: int, direction, pos: np.ndarray, normals: np.ndarray, seg: np.ndarray,
                     size: int | None = None, planes: Sequence[Plane] = ()) -> np.ndarray:
    """Per pixel, 1 where the sun reaches the surface and 0 where geometry blocks it (and where empty),
    from a TinyRenderer shadow map.

    Args:
        client: the PyBullet client whose visual shapes cast the shadows.
        direction: (3,) direction towards the sun.
        pos: (H, W, 3) world positions of the image's pixels.
        normals: (H, W, 3) their world normals (zero where empty).
        seg: (H, W) body index, -1 where empty.
        size: the map's side in texels; default :func:`map_size` of the image.
        planes: the scene's plane bodies (:func:`world_planes`); those that cannot shadow any
            receiver are left out of the map. Leaving this empty draws every body.

    Returns:
        float32 (H, W).
    """
    height, width = seg.shape
    out = np.zeros((height, width), np.float32)
    index, points = receivers(pos, seg)
    if index.size == 0:
        return out
    view = fit_light_view(direction, points, size or map_size((width, height)))
    size, centre, eye, half = view.size, view.centre, view.eye, view.half
    near, far = DISTANCE - CASTER_RANGE - (view.along_hi - view.along_lo), DISTANCE + 1.0
    gl_view = pb.computeViewMatrix(eye.tolist(), centre.tolist(), view.up.tolist())
    proj = pb.computeProjectionMatrixFOV(2 * math.degrees(math.atan(half / DISTANCE)), 1.0, near, far)
    with _hidden(client, idle_planes(view, points, planes)):
        _, _, _, zbuf, _ = pb.getCameraImage(size, size, gl_view, proj, renderer=pb.ER_TINY_RENDERER, shadow=0,
                                             flags=pb.ER_NO_SEGMENTATION_MASK, physicsClientId=client)
    depth_map = linear_depth(np.asarray(zbuf, np.float64).reshape(size, size), near, far)
    # One affine product gives clip x, y, w and the eye-space depth (no homogeneous column built).
    view_m, clip_m = gl_matrix(gl_view), gl_matrix(proj) @ gl_matrix(gl_view)
    affine = np.stack([clip_m[0], clip_m[1], clip_m[3], -view_m[2]])  # (4, 4): rows x, y, w, depth

    def texel_of(probe: np.ndarray):
        clip_x, clip_y, clip_w, distance = _rows(affine[:, :3], probe) + affine[:, 3:]
        return (clip_x / clip_w + 1) * 0.5 * size, (1 - clip_y / clip_w) * 0.5 * size, distance

    out.reshape(-1)[index] = lookup(view, texel_of, depth_map, points, normals.reshape(-1, 3)[index])
    return out


def ray_cast_visibility(client: int, direction, pos: np.ndarray, normals: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """The same map from one ray per pixel against the collision shapes: the slow reference the shadow
    map is tested against (its cost grows with pixels: ~100 ms at 256², ~370 ms with a KUKA in view).

    Rays start 2 mm off the surface, so they misreport surfaces inside a collision margin (a static
    concave mesh such as ``mesh_bin``'s bin reads as shadowed where the sun plainly reaches it).
    """
    height, width = seg.shape
    out = np.zeros((height, width), np.float32)
    idx = np.flatnonzero(seg.reshape(-1) >= 0)
    if idx.size == 0:
        return out
    l_dir = np.asarray(direction, dtype=float)
    l_dir /= np.linalg.norm(l_dir)
    starts = pos.reshape(-1, 3)[idx] + 2e-3 * normals.reshape(-1, 3)[idx] + 1e-3 * l_dir
    ends = starts + l_dir * 20.0
    hit = np.zeros(idx.size, bool)
    batch = 8192  # below PyBullet's per-call ray limit (16383 in 3.2.7)
    for lo in range(0, idx.size, batch):
        results = pb.rayTestBatch(starts[lo:lo + batch].tolist(), ends[lo:lo + batch].tolist(), physicsClientId=client)
        hit[lo:lo + batch] = [r[0] >= 0 for r in results]
    out.reshape(-1)[idx] = (~hit).astype(np.float32)
    return out
