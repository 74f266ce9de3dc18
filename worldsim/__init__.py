"""worldsim: PyBullet decides where everything is; a diffusion transformer draws what it looks like.

The public API, importable from the top level (loaded lazily, so ``import worldsim`` stays cheap
and the physics side never pulls in torch):

>>> import worldsim
>>> spec = worldsim.scene_from_dict({"bodies": [{"name": "ball", "type": "sphere", "radius": 0.1}]})
>>> with worldsim.PhysicsWorld(spec, seed=0) as world:
...     world.step_frames(1)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_scene": "worldsim.scene", "scene_from_dict": "worldsim.scene", "sample": "worldsim.scene",
    "SceneSpec": "worldsim.scene", "PhysicsWorld": "worldsim.physics.world", "PhysicsState": "worldsim.state",
    "render_frame": "worldsim.teacher.tiny", "rollout": "worldsim.recording", "Renderer": "worldsim.render",
    "dataset": "worldsim.dataset", "WorldsimError": "worldsim.errors", "SceneError": "worldsim.errors",
    "PhysicsError": "worldsim.errors", "DataError": "worldsim.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'worldsim' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if name == "dataset" else getattr(module, name)
