"""Scene description: schema, YAML loading with friendly errors, randomization."""

from worldsim.scene.loader import load_scene, scene_from_dict
from worldsim.scene.randomize import sample, with_values
from worldsim.scene.schema import Camera, Light, SceneSpec, SimSettings

__all__ = ["Camera", "Light", "SceneSpec", "SimSettings", "load_scene", "sample", "scene_from_dict", "with_values"]
