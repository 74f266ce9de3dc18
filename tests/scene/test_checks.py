"""Validation warnings: extreme mass ratios, named by file and bodies, and the settings they suggest."""

from __future__ import annotations

import warnings

import pytest

from worldsim.errors import SceneWarning
from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene, scene_from_dict


def _stack(ratio: float, sim: dict | None = None) -> dict:
    return {"sim": sim or {}, "bodies": [
        {"name": "floor", "type": "plane"},
        {"name": "light", "type": "box", "size": [0.2, 0.2, 0.2], "mass": 0.1, "position": [0, 0, 0.1]},
        {"name": "heavy", "type": "box", "size": [0.2, 0.2, 0.2], "mass": 0.1 * ratio, "position": [0, 0, 0.6]}]}


def test_extreme_mass_ratio_warns_with_file_bodies_and_settings(tmp_path):
    path = tmp_path / "crush.yaml"
    import yaml

    path.write_text(yaml.safe_dump(_stack(10_000)))
    with pytest.warns(SceneWarning) as rec:
        load_scene(path)
    message = str(rec[0].message)
    assert message.startswith(f"{path}: bodies 'light' (0.1 kg) and 'heavy' (1e+03 kg) differ in mass 10000:1")
    assert "sim.substeps: 8 and sim.solver_iterations: 200" in message


def test_no_warning_below_the_ratio_or_with_the_suggested_settings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene_from_dict(_stack(50))
        scene_from_dict(_stack(10_000, {"substeps": 8, "solver_iterations": 200}))


@pytest.mark.parametrize("ratio, sim", [(1_000, {"substeps": 4, "solver_iterations": 200}),
                                        (10_000, {"substeps": 8, "solver_iterations": 200})])
def test_the_suggested_settings_hold_the_stack(ratio, sim):
    def heavy_z(settings: dict) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SceneWarning)
            spec = scene_from_dict(_stack(ratio, settings))
        with PhysicsWorld(spec) as world:
            world.step_frames(48)
            return float(world.state().positions[2, 2])

    assert heavy_z({}) < 0.2  # the default solver lets the heavy box pass the light one to the floor
    assert abs(heavy_z(sim) - 0.3) < 3e-3  # on top of it, as stacked


def test_urdf_masses_count_for_the_ratio():
    with pytest.warns(SceneWarning, match="'duck'"):
        scene_from_dict({"bodies": [
            {"name": "duck", "type": "urdf", "file": "duck_vhacd.urdf"},
            {"name": "anvil", "type": "box", "size": [0.2, 0.2, 0.2], "mass": 500.0, "position": [1, 0, 0.1]}]})
