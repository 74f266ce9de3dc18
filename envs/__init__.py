"""Gymnasium environments on worldsim: real physics, pixels from the world model.

>>> import gymnasium as gym
>>> import worldsim_envs
>>> env = gym.make("worldsim/PandaReach-v0")  # or gym.make("worldsim_envs:worldsim/PandaReach-v0")
>>> obs, info = env.reset(seed=0)
>>> sorted(obs)
['achieved_goal', 'desired_goal', 'observation']
>>> env.close()

Ids (:data:`ENV_IDS`): ``worldsim/Panda{Reach,Push,PickAndPlace,Stack}[Dense][Joints]-v0``
(sparse or dense reward; end-effector or joint control) and
``worldsim/{BilliardsShot,LaunchToBin}[Dense]-v0``. Every id takes ``obs_mode`` (``state``,
``proprio``, ``rgb``, ``rgb_reference``, ``depth``, ``segmentation`` or a ``+`` combination),
``cameras``, ``privileged``, ``visual_randomization``, ``image_size``, ``render_mode`` and the other
arguments of :class:`~worldsim_envs.core.WorldsimEnv`, and has a batched ``gymnasium.make_vec``
(:class:`~worldsim_envs.vector.WorldsimVectorEnv`). Entry points are strings, so
``env.spec.to_json()`` round-trips. One-shot tasks have no time limit: their one step terminates.
"""

from __future__ import annotations

import gymnasium
from worldsim_envs.core import WorldsimEnv
from worldsim_envs.observations import OBS_MODES
from worldsim_envs.panda import PandaPickAndPlace, PandaPush, PandaReach, PandaStack
from worldsim_envs.shots import BilliardsShot, LaunchToBin
from worldsim_envs.vector import WorldsimVectorEnv

# name -> (class, max_episode_steps); panda-gym's episode lengths for the Panda tasks. One-shot tasks
# terminate on their one step, so a time limit would only add truncated=True beside terminated=True.
TASKS = {
    "PandaReach": (PandaReach, 50), "PandaPush": (PandaPush, 50), "PandaPickAndPlace": (PandaPickAndPlace, 50),
    "PandaStack": (PandaStack, 100), "BilliardsShot": (BilliardsShot, None), "LaunchToBin": (LaunchToBin, None),
}


def _variants(name: str, cls: type) -> list[tuple[str, dict]]:
    rewards = [("", {}), ("Dense", {"reward_type": "dense"})]
    controls = [("", {})] + ([("Joints", {"control": "joints"})] if name.startswith("Panda") else [])
    return [(f"{name}{r}{c}", {**rk, **ck}) for r, rk in rewards for c, ck in controls]


def _register_all() -> list[str]:
    ids = []
    for name, (cls, steps) in TASKS.items():
        for variant, kwargs in _variants(name, cls):
            env_id = f"worldsim/{variant}-v0"
            ids.append(env_id)
            if env_id in gymnasium.registry:  # a re-import must not re-register
                continue
            gymnasium.register(id=env_id, entry_point=f"{cls.__module__}:{cls.__name__}", max_episode_steps=steps,
                               kwargs=kwargs, vector_entry_point=f"worldsim_envs.vector:{name}Vector")
    return ids


ENV_IDS: list[str] = _register_all()

__all__ = ["ENV_IDS", "OBS_MODES", "TASKS", "WorldsimEnv", "WorldsimVectorEnv", "PandaReach", "PandaPush",
           "PandaPickAndPlace", "PandaStack", "BilliardsShot", "LaunchToBin"]
