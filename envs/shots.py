"""One-shot physics tasks: the agent chooses an initial velocity, the physics decides what happens.

Each episode is a single decision (a contextual bandit, like choosing a shot): ``reset`` shows the
scene, ``step(action)`` sets the velocity, simulates until everything rests (or ``horizon``
seconds), and returns the final observation with ``terminated=True``. Only a real physics engine
makes these honest: collisions, restitution, rolling friction and ballistics decide the outcome.

Both tasks read their geometry from a scene file under ``scenes/tasks/`` (pass ``scene=`` to use
your own: it needs bodies with the names the task uses, and its ``randomize`` section decides
what changes between episodes). Rewards: ``sparse`` is 0 on success and −1 otherwise; ``dense``
is minus the final distance (metres) between the object and the goal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from worldsim_envs.core import WorldsimEnv

from worldsim import SceneSpec

REST_SPEED = 0.02  # m/s: below this, every moving body counts as at rest


class ShotTask(WorldsimEnv):
    """Shared one-shot machinery.

    Args:
        reward_type: ``"sparse"`` or ``"dense"``.
        horizon: longest simulated time after the shot, in seconds.
        **kwargs: see :class:`~worldsim_envs.core.WorldsimEnv`.
    """

    subject = ""  # the body the action launches
    goal_radius = 0.1

    def __init__(self, scene: str | Path | SceneSpec | None = None, reward_type: str = "sparse", horizon: float = 4.0,
                 **kwargs):
        if reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type {reward_type!r} is not 'sparse' or 'dense'")
        if not horizon > 0:
            raise ValueError(f"horizon must be > 0 seconds, got {horizon!r}")
        self.reward_type, self.horizon = reward_type, float(horizon)
        super().__init__(scene, **kwargs)

    def _make_action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _velocity(self, action: np.ndarray) -> list[float]:
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        world = self.world
        world.set_velocity(self.subject, self._velocity(action), [0.0, 0.0, 0.0])
        fps = world.spec.sim.fps
        for _ in range(int(math.ceil(self.horizon * fps))):
            world.step_frames(1)
            state = world.state()
            moving = state.present & (np.linalg.norm(state.velocities, axis=1) > REST_SPEED)
            if not moving.any():
                break

    def _position(self, name: str) -> np.ndarray:
        state = self._physics_state()
        return state.positions[state.index(name)]

    def _goal_error(self) -> float:
        raise NotImplementedError

    def _success(self) -> bool:
        return self._goal_error() < self.goal_radius

    def _evaluate(self) -> tuple[float, bool, dict[str, Any]]:
        error, success = self._goal_error(), self._success()
        reward = (0.0 if success else -1.0) if self.reward_type == "sparse" else -error
        return reward, True, {"is_success": success, "goal_distance": error, "sim_time": self.world.time}


class BilliardsShot(ShotTask):
    """Hit the cue ball so the target ball stops in the pocket zone.

    Action: ``[direction, speed]`` in [−1, 1]²: direction × π is the cue ball's heading (radians,
    from +x towards +y); speed maps linearly to 0.5–5 m/s. Success: the target ball's centre ends
    within the pocket zone's radius of its centre. State: cue xy, target xy, pocket xy.
    """

    default_scene = "billiards_shot.yaml"
    subject = "cue"

    @property
    def goal_radius(self) -> float:
        return float(self.world.spec.bodies[self.world.index("pocket")].radius)

    def _velocity(self, action: np.ndarray) -> list[float]:
        heading, speed = math.pi * float(action[0]), 0.5 + 2.25 * (float(action[1]) + 1.0)
        return [speed * math.cos(heading), speed * math.sin(heading), 0.0]

    def _state_vector(self) -> np.ndarray:
        return np.concatenate([self._position(n)[:2] for n in ("cue", "target", "pocket")]).astype(np.float32)

    def _goal_error(self) -> float:
        return float(np.linalg.norm(self._position("target")[:2] - self._position("pocket")[:2]))


class LaunchToBin(ShotTask):
    """Launch the ball along +x so it comes to rest inside the bin.

    Action: ``[speed, elevation]`` in [−1, 1]²: speed maps to 2–8 m/s, elevation to 15°–75°.
    Success: the ball ends inside the bin's footprint (±0.35 m of its centre) below its rim.
    State: ball xyz, bin xyz.
    """

    default_scene = "launch_to_bin.yaml"
    subject = "ball"
    half_width, rim = 0.35, 0.3

    def _velocity(self, action: np.ndarray) -> list[float]:
        speed = 5.0 + 3.0 * float(action[0])
        elevation = math.radians(45.0 + 30.0 * float(action[1]))
        return [speed * math.cos(elevation), 0.0, speed * math.sin(elevation)]

    def _state_vector(self) -> np.ndarray:
        return np.concatenate([self._position("ball"), self._position("bin")]).astype(np.float32)

    def _goal_error(self) -> float:
        return float(np.linalg.norm(self._position("ball")[:2] - self._position("bin")[:2]))

    def _success(self) -> bool:
        offset = np.abs(self._position("ball") - self._position("bin"))
        return bool(offset[0] < self.half_width and offset[1] < self.half_width and offset[2] < self.rim)
