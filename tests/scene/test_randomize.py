"""Randomization ranges: draws are reproducible, inside their ranges, and bad paths are refused."""

from __future__ import annotations

import pytest

from worldsim.errors import SceneError
from worldsim.scene import sample, scene_from_dict


def _spec(randomize):
    return scene_from_dict({
        "bodies": [{"name": "floor", "type": "plane"},
                   {"name": "ball", "type": "sphere", "radius": 0.1, "mass": 1.0, "material": "rubber"}],
        "randomize": randomize,
    })


def test_same_seed_same_scene_and_ranges_hold():
    spec = _spec({"bodies[ball].mass": {"uniform": [0.5, 2.0]}, "bodies[1].position": {"uniform": [[0, 0, 1], [1, 1, 2]]},
                  "bodies[ball].material": {"choice": ["rubber", "metal"]}, "light.ambient": {"normal": [0.4, 0.01]}})
    a, b = sample(spec, 3), sample(spec, 3)
    assert a == b and not a.randomize
    masses = {sample(spec, s).body("ball").mass for s in range(20)}
    assert len(masses) == 20 and all(0.5 <= m <= 2.0 for m in masses)
    for s in range(20):
        x, y, z = sample(spec, s).body("ball").position
        assert 0 <= x <= 1 and 0 <= y <= 1 and 1 <= z <= 2
    assert {sample(spec, s).body("ball").material for s in range(20)} == {"rubber", "metal"}


@pytest.mark.parametrize("path", ["bodies[ghost].mass", "bodies[1].weight", "nonsense[", "bodies[7].mass"])
def test_bad_paths_refused(path):
    with pytest.raises(SceneError) as info:
        _spec({path: {"uniform": [1, 2]}})
    assert path in str(info.value)


def test_draw_that_breaks_schema_refused():
    with pytest.raises(SceneError, match="greater than 0"):
        _spec({"bodies[ball].mass": {"uniform": [-2, -1]}})
