"""The map pass's compiled loops give exactly what the numpy functions they replace give."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SCENE_DIR
from worldsim.physics import PhysicsWorld
from worldsim.physics.decimate import visual_faces_for
from worldsim.scene import load_scene
from worldsim.teacher import map_kernels as kernels
from worldsim.teacher.gbuffer import derive_maps
from worldsim.teacher.maps import render_maps
from worldsim.teacher.scene_mesh import scene_mesh
from worldsim.teacher.shadows import (
    LightView,
    cannot_shadow,
    fit_light_view,
    idle_planes,
    light_axes,
    lookup,
    receivers,
    world_planes,
)


@pytest.fixture(scope="module", params=[("tasks/panda_push.yaml", (64, 64)), ("tower_topple.yaml", (96, 72))])
def view(request):
    """A frame from the map pass and the world it shows (kept open for the plane tests)."""
    name, resolution = request.param
    spec = load_scene(SCENE_DIR / name)
    with PhysicsWorld(spec, visual_faces=visual_faces_for(max(resolution))) as world:
        world.step_frames(8)
        yield world, render_maps([(scene_mesh(world), spec.camera(None))], resolution)[0]


def test_geometry_maps_equal_derive_maps(view):
    world, frame = view
    depth, pos, normals, material = derive_maps(frame.depth, frame.segmentation, world.material_ids,
                                                frame.intrinsics, frame.extrinsics)
    for ours, theirs in ((frame.depth, depth), (frame.world_position, pos), (frame.normals, normals),
                         (frame.material, material)):
        np.testing.assert_array_equal(ours, theirs)


def test_light_bounds_equal_the_receivers_extent_and_the_planes_heights(view):
    world, frame = view
    planes = world_planes(world)
    axes = light_axes(world.spec.light.direction)
    normals = np.array([p.normal for p in planes]).reshape(-1, 3)
    bounds, lowest, count = kernels.light_bounds(frame.world_position, frame.segmentation, axes, normals)
    index, points = receivers(frame.world_position, frame.segmentation)
    assert count == index.size > 0
    # numpy's einsum may sum the three products in another order: equal to the last bit or two
    along = np.einsum("mk,nk->mn", axes, points)
    np.testing.assert_allclose(bounds, np.stack([along.min(1), along.max(1)], axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(lowest, np.einsum("mk,nk->mn", normals, points).min(1), rtol=0, atol=1e-12)
    view_ = LightView.fitted(axes, bounds, 96)
    assert _same_view(view_, fit_light_view(world.spec.light.direction, points, 96))
    assert [p.uid for p, low in zip(planes, lowest, strict=True) if cannot_shadow(p, view_, low)] == \
        [p.uid for p in idle_planes(view_, points, planes)]


def _texel_of(view: LightView):
    """The orthographic map's texel lookup in numpy, for :func:`lookup`: column, row and distance from
    the map's eye along the sun (what the kernel computes per pixel)."""
    axes = view.axes
    offsets = axes @ view.centre

    def texel_of(probe: np.ndarray):
        across_r, across_u, along = np.einsum("mk,nk->mn", axes, probe)
        col = ((across_r - offsets[0]) / view.half + 1) * 0.5 * view.size
        row = (1 - (across_u - offsets[1]) / view.half) * 0.5 * view.size
        return col, row, float(view.eye @ view.l_dir) - along

    return texel_of


def _same_view(a: LightView, b: LightView) -> bool:
    return all(np.allclose(getattr(a, k), getattr(b, k), rtol=0, atol=1e-12) for k in a.__dataclass_fields__)


@pytest.mark.parametrize("seed", [0, 1])
def test_shadow_lookup_equals_lookup(view, seed):
    """Against numpy's lookup on a random shadow map (empty texels read as far), so both lit and
    shadowed receivers occur."""
    world, frame = view
    index, points = receivers(frame.world_position, frame.segmentation)
    lv = fit_light_view(world.spec.light.direction, points, 96)
    rng = np.random.default_rng(seed)
    far = 1001.0
    along = float(lv.eye @ lv.l_dir) - np.einsum("k,nk->n", lv.l_dir, points)
    hit = np.where(rng.random((96, 96)) < 0.2, -1, 0).astype(np.int64)
    depth = (np.median(along) + rng.normal(0.0, along.std() + 1e-3, (96, 96))).astype(np.float32)
    ours = np.zeros(frame.segmentation.shape, np.float32)
    axes = lv.axes
    kernels.shadow_lookup(frame.world_position, frame.normals, frame.segmentation, hit, depth, far, axes,
                          axes[:2] @ lv.centre, lv.half, lv.size, float(lv.eye @ lv.l_dir), lv.texel, ours)
    theirs = np.zeros_like(ours)
    normals = frame.normals.reshape(-1, 3)[index]
    theirs.reshape(-1)[index] = lookup(lv, _texel_of(lv), np.where(hit >= 0, depth, far).astype(np.float64), points, normals)
    assert 0.05 < theirs.reshape(-1)[index].mean() < 0.95  # both outcomes are exercised
    np.testing.assert_array_equal(ours, theirs)
