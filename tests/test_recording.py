"""Rollouts: which pass draws the condition maps, and what the teacher draws beside them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SCENE_DIR
from worldsim.physics import PhysicsWorld
from worldsim.recording import default_map_pass, rollout
from worldsim.scene import load_scene, sample
from worldsim.teacher.maps import render_maps
from worldsim.teacher.scene_mesh import scene_mesh

SIZE = (48, 48)


@pytest.fixture(scope="module")
def spec():
    return sample(load_scene(SCENE_DIR / "billiards_break.yaml"), 0)  # spheres: where the two passes differ


def test_each_teacher_gets_the_map_pass_that_lines_up_with_its_pictures():
    assert default_map_pass("cycles") == "raster"
    assert default_map_pass("tiny") == default_map_pass("none") == "tiny"


def test_raster_maps_beside_tinyrenderer_picture(spec):
    """The lit picture is TinyRenderer's whatever draws the maps; the raster maps are ``render_maps``'
    of the same state; ``teacher="none"`` draws the maps alone (rgb is the albedo)."""
    tiny = rollout(spec, seed=0, frames=3, resolution=SIZE)
    raster = rollout(spec, seed=0, frames=3, resolution=SIZE, map_pass="raster")
    alone = rollout(spec, seed=0, frames=3, resolution=SIZE, teacher="none", map_pass="raster")
    with PhysicsWorld(spec, seed=0) as world:
        first = render_maps([(scene_mesh(world), spec.camera(None))], SIZE)[0]
    for name in ("segmentation", "depth", "albedo", "light_visibility"):
        np.testing.assert_array_equal(getattr(raster.frames[0], name), getattr(first, name), err_msg=name)
    for a, b, c in zip(tiny.frames, raster.frames, alone.frames, strict=True):
        np.testing.assert_array_equal(a.rgb, b.rgb)
        np.testing.assert_array_equal(b.albedo, c.albedo)
        np.testing.assert_array_equal(c.rgb, c.albedo)
        assert 0.97 < np.mean(a.segmentation == b.segmentation) < 1.0  # same physics, finer spheres
    np.testing.assert_array_equal(tiny.state_arrays()["positions"], raster.state_arrays()["positions"])


@pytest.mark.parametrize(("kwargs", "match"), [({"teacher": "blender"}, "unknown teacher 'blender'"),
                                               ({"map_pass": "opengl"}, "unknown map pass 'opengl'")])
def test_an_unknown_teacher_or_map_pass_is_refused(spec, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rollout(spec, frames=1, resolution=SIZE, **kwargs)
