"""One-shot physics tasks: the agent chooses an initial velocity, the physics decides what happens.

Each episode is a single decision (a contextual bandit, like choosing a shot): ``reset`` shows the
scene, ``step(action)`` sets the velocity, simulates until everything rests (or ``horizon``
seconds), and returns the final observation with ``terminated=True``. Only a real physics engine
makes these honest: collisions, restitution, rolling friction and ballistics decide the outcome.

Both tasks read their geometry from a scene file under ``scenes/tasks/`` (pass ``scene=`` to use
your own: it needs bodies with the names the task uses, and its ``randomize`` section decides
what changes between episodes). Rewards: ``sparse`` is 0 on success and −1 otherwise; ``dense``
is minus a distance in metres (``info["goal_distance"]``): where the target ball stops from the
pocket, where the launched ball first comes down from the bin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from worldsim_envs.core import WorldsimEnv

from worldsim import SceneSpec
from worldsim.state import PhysicsState

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
        # Called with the env after every simulated frame of a shot (``step`` runs the whole flight),
        # e.g. to film it: ``env.unwrapped.frame_callback = lambda e: frames.append(e.render())``.
        self.frame_callback: Callable[[ShotTask], None] | None = None
        super().__init__(scene, **kwargs)

    def _make_action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _velocity(self, action: np.ndarray) -> list[float]:
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        world = self.world
        world.set_velocity(self.subject, self._velocity(action), [0.0, 0.0, 0.0])
        fps = world.spec.sim.fps
        self._launched()
        for _ in range(int(math.ceil(self.horizon * fps))):
            world.step_frames(1)
            state = self._state = world.state()  # keeps _physics_state current for the hooks below
            self._after_frame(state)
            if self.frame_callback is not None:
                self.frame_callback(self)
            moving = state.present & (np.linalg.norm(state.velocities, axis=1) > REST_SPEED)
            if not moving.any():
                break

    def _launched(self) -> None:
        """Called once the action's velocity is set, before the physics runs."""

    def _after_frame(self, state: PhysicsState) -> None:
        """Called with the state (and that frame's contacts) after every simulated frame of a shot."""

    def _position(self, name: str) -> np.ndarray:
        state = self._physics_state()
        return state.positions[state.index(name)]

    def _goal_error(self) -> float:
        raise NotImplementedError

    def _success(self) -> bool:
        return self._goal_error() < self.goal_radius

    def _reset_info(self) -> dict[str, Any]:
        return {"is_success": False, "goal_distance": self._goal_error(), "sim_time": self.world.time}

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
    State: ball xyz, bin xyz. The dense reward is minus the horizontal distance from where the ball
    first comes down (its first contact with anything but the ``pad`` it starts on) to the bin's
    centre. Where it comes to rest would be a trap: a ball resting against the bin's outer wall is
    only 0.45 m from the centre, and an agent on that reward learns to hit the wall every time.
    """

    default_scene = "launch_to_bin.yaml"
    subject = "ball"
    half_width, rim = 0.35, 0.3
    support = "pad"  # what the ball rests on before the shot
    _touchdown: np.ndarray | None = None  # where the ball first came down in this shot

    def _launched(self) -> None:
        self._touchdown = None

    def _reset_task(self) -> None:
        self._touchdown = None  # the last episode's landing must not score this one's reset

    def _after_frame(self, state: PhysicsState) -> None:
        if self._touchdown is not None:
            return
        ball, support = state.index(self.subject), state.index(self.support)
        for contact in state.contacts:
            pair = {contact.body_a, contact.body_b}
            if ball in pair and support not in pair:
                self._touchdown = np.asarray(contact.position, np.float64)
                return

    def _velocity(self, action: np.ndarray) -> list[float]:
        speed = 5.0 + 3.0 * float(action[0])
        elevation = math.radians(45.0 + 30.0 * float(action[1]))
        return [speed * math.cos(elevation), 0.0, speed * math.sin(elevation)]

    def _state_vector(self) -> np.ndarray:
        return np.concatenate([self._position("ball"), self._position("bin")]).astype(np.float32)

    def _goal_error(self) -> float:
        landed = self._touchdown if self._touchdown is not None else self._position("ball")
        return float(np.linalg.norm(landed[:2] - self._position("bin")[:2]))

    def _success(self) -> bool:
        offset = np.abs(self._position("ball") - self._position("bin"))
        return bool(offset[0] < self.half_width and offset[1] < self.half_width and offset[2] < self.rim)
