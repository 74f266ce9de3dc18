"""``WorldsimEnv``: the Gymnasium base every worldsim task builds on.

It owns one :class:`worldsim.PhysicsWorld` built from a scene file, turns the world into
observations in any mode of :mod:`worldsim_envs.observations`, checks actions, and ends an episode
cleanly (``info["physics_error"]``) if the physics blows up. A task subclass says what the actions
do, what the state vector holds, and how it is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from worldsim_envs import observations as obs_lib

from worldsim import PhysicsError, PhysicsWorld, SceneSpec, load_scene, render_frame, sample
from worldsim.conditioning.arrays import from_frames
from worldsim.physics.world import Snapshot
from worldsim.scene.assets import SCENES_DIR

TASK_SCENES = SCENES_DIR / "tasks"


@dataclass
class EnvSnapshot:
    """Everything needed to continue an episode exactly from where :meth:`WorldsimEnv.save_state` was called."""

    world: Snapshot
    task: dict[str, Any]
    step: int
    render_seed: int
    last_learned: np.ndarray | None
    last_obs: Any


class WorldsimEnv(gym.Env):
    """Base environment: a scene, its physics, and observations in one of several modes.

    Args:
        scene: a scene file path, a :class:`worldsim.SceneSpec`, or None for the task's bundled scene.
        obs_mode: ``state``, ``rgb``, ``rgb_reference``, ``depth`` or ``segmentation``.
        render_mode: None or ``"rgb_array"``.
        image_size: side of square pixel observations and of ``render()`` frames.
        camera: name of the scene camera to observe from (default: its first).
        checkpoint: learned-renderer checkpoint (name or path; None = the shipped ``raster`` one, the
            TinyRenderer look trained at 64², the fastest for small observations).
        render_steps: sampler steps of the learned renderer (1, 2 or 4 are sensible).
        device: torch device for the learned renderer (``cpu``, ``cuda``, ``auto``).
        render_backend: what ``render()`` draws: ``"learned"`` (the world model) or ``"pybullet"``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 24}
    default_scene = ""  # file name under scenes/tasks/
    goal_conditioned = False

    def __init__(self, scene: str | Path | SceneSpec | None = None, obs_mode: str = "state",
                 render_mode: str | None = None, image_size: int = 64, camera: str | None = None,
                 checkpoint: str | None = None, render_steps: int = 2, device: str = "cpu",
                 render_backend: str = "learned"):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r} is not supported; use None or 'rgb_array'")
        if render_backend not in ("learned", "pybullet"):
            raise ValueError(f"render_backend {render_backend!r} is not 'learned' or 'pybullet'")
        if not isinstance(image_size, int) or image_size < 8:
            raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
        self._state = None  # the world's PhysicsState, read at most once per step (see _physics_state)
        self.obs_mode = obs_lib.check_obs_mode(obs_mode)
        self.render_mode, self.render_backend = render_mode, render_backend
        self.image_size, self.camera = image_size, camera
        self._renderer_args = (checkpoint, device, render_steps)
        self.base_spec = scene if isinstance(scene, SceneSpec) else load_scene(scene or TASK_SCENES / self.default_scene)
        self.metadata = {**self.metadata, "render_fps": self.base_spec.sim.fps}
        self.world: PhysicsWorld | None = None
        self._start: Snapshot | None = None
        self._build(self.base_spec)
        self.action_space = self._make_action_space()
        self.observation_space = self._make_observation_space()
        self._steps, self._render_seed = 0, 0
        self._last_learned: np.ndarray | None = None
        self._last_obs: Any = None
        self._obs_current = False  # does _last_learned show the world as it is now?
        self._broken = False
        self._viewer_context: np.ndarray | None = None

    # --- what a task defines ------------------------------------------------------------------
    def _make_action_space(self) -> spaces.Box:
        raise NotImplementedError

    def _state_vector(self) -> np.ndarray:
        """The flat ``state`` observation (float32)."""
        raise NotImplementedError

    def _reset_task(self) -> None:
        """Place objects and goals for a new episode, drawing randomness from ``self.np_random``."""

    def _apply_action(self, action: np.ndarray) -> None:
        """Turn a checked, clipped action into physics and advance time."""
        raise NotImplementedError

    def _evaluate(self) -> tuple[float, bool, dict[str, Any]]:
        """(reward, terminated, info) after a step."""
        raise NotImplementedError

    def _task_state(self) -> dict[str, Any]:
        """Task variables (goals, …) that :meth:`save_state` must keep."""
        return {}

    def _set_task_state(self, state: dict[str, Any]) -> None:
        pass

    def _physics_state(self):
        """The world's state now; tasks read it several times per step, PyBullet is asked once."""
        if self._state is None:
            self._state = self.world.state(clear_contacts=False)
        return self._state

    # --- world lifecycle ----------------------------------------------------------------------
    def _build(self, spec: SceneSpec) -> None:
        if self.world is not None:
            self.world.close()
        self.world = PhysicsWorld(spec, seed=0)
        self._start = self.world.snapshot()

    def _fresh_world(self) -> None:
        """A scene with a ``randomize`` section is re-drawn and rebuilt; otherwise the start state is restored."""
        if self.base_spec.randomize:
            self._build(sample(self.base_spec, int(self.np_random.integers(2**31))))
        else:
            self.world.restore(self._start)

    def close(self) -> None:
        """Disconnect the physics client."""
        if self.world is not None:
            self.world.close()
            self.world = None

    # --- spaces -------------------------------------------------------------------------------
    @property
    def _cam(self):
        return self.base_spec.camera(self.camera)

    def _core_space(self) -> spaces.Space:
        if self.obs_mode == "state":
            n = self._state_vector().shape[0]
            return spaces.Box(-np.inf, np.inf, (n,), np.float32)
        return obs_lib.pixel_space(self.obs_mode, self.image_size, len(self.base_spec.bodies), self._cam.far)

    def _make_observation_space(self) -> spaces.Space:
        core = self._core_space()
        if not self.goal_conditioned:
            return core
        goal = self._achieved_goal().shape
        box = spaces.Box(-np.inf, np.inf, goal, np.float32)
        return spaces.Dict({"observation": core, "achieved_goal": box, "desired_goal": box})

    # --- observations -------------------------------------------------------------------------
    @property
    def renderer(self):
        """The learned renderer (loaded on first use, shared by every env in the process)."""
        return obs_lib.shared_renderer(*self._renderer_args)

    def _learned_request(self):
        """(inputs, seed, context) for this frame's learned render; the vector env batches these."""
        frame = obs_lib.capture(self.world, "rgb", self.renderer.resolution, self.camera)
        seed = (self._render_seed * 1_000_003 + self._steps) % 2**63
        return from_frames(self.world.spec, [frame]), seed, self._last_learned

    def _observe(self, learned: np.ndarray | None = None) -> Any:
        """The observation now. In ``rgb`` mode, ``learned`` is this frame (drawn here if not given)."""
        if self.obs_mode == "state":
            core = self._state_vector()
        elif self.obs_mode == "rgb":
            if learned is None:
                inputs, seed, context = self._learned_request()
                learned = obs_lib.render_learned(self.renderer, [inputs], [seed], [context])[0]
            self._last_learned, self._obs_current = learned, True
            core = obs_lib.resize(learned, self.image_size)
        else:
            frame = obs_lib.capture(self.world, self.obs_mode, self.image_size, self.camera)
            core = obs_lib.pixels(frame, self.obs_mode)
        if self.goal_conditioned:
            core = {"observation": core, "achieved_goal": self._achieved_goal(), "desired_goal": self._desired_goal()}
        self._last_obs = core
        return core

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._begin_episode(seed)
        return self._observe(), {}

    def _begin_episode(self, seed: int | None) -> None:
        """Everything reset does except observing (the vector env observes in a batch)."""
        gym.Env.reset(self, seed=seed)  # seeds self.np_random, which draws every random choice below
        self._fresh_world()
        self._reset_task()
        self._steps, self._broken = 0, False
        self._render_seed = int(self.np_random.integers(2**31))
        self._last_learned, self._viewer_context, self._state = None, None, None

    def check_action(self, action) -> np.ndarray:
        """The action as float32 within bounds; NaN/inf or a wrong shape is a ValueError.

        Values outside the action space are clipped to it (as in panda-gym); non-finite values
        are refused because clipping them would hide a bug in the agent.
        """
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != self.action_space.shape:
            raise ValueError(f"{type(self).__name__}: action has shape {arr.shape}, expected {self.action_space.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{type(self).__name__}: action contains NaN or inf: {arr.tolist()}")
        return np.clip(arr, self.action_space.low, self.action_space.high).astype(np.float32)

    def step(self, action):
        reward, terminated, truncated, info = self._step_physics(action)
        obs = self._last_obs if "physics_error" in info else self._observe()
        return obs, reward, terminated, truncated, info

    def _step_physics(self, action) -> tuple[float, bool, bool, dict[str, Any]]:
        """Check the action and advance the physics; observing is left to the caller."""
        if self._broken:
            raise gym.error.ResetNeeded("the physics blew up in this episode; call reset() before step()")
        action = self.check_action(action)
        self._steps += 1
        self._obs_current = False
        try:
            self._apply_action(action)
        except PhysicsError as exc:
            self._state = None
            # The world state is no longer trustworthy: end the episode, keep the last good observation.
            self._broken = True
            return self._failure_reward(), True, False, {"physics_error": str(exc), "is_success": False}
        self._state = None  # the world moved
        reward, terminated, info = self._evaluate()
        return float(reward), bool(terminated), False, info

    def _failure_reward(self) -> float:
        return -1.0

    def render(self) -> np.ndarray | None:
        """``uint8 (H,W,3)`` of the current state (``render_backend`` decides who draws it)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode='rgb_array'; returning None")
            return None
        if self.render_backend == "pybullet":
            return render_frame(self.world, self.camera, (self.image_size, self.image_size), passes="rgb",
                                visibility=False).rgb
        if self.obs_mode == "rgb" and self._last_learned is not None and (self._obs_current or self._broken):
            # the observation shows this state (or the last good one, if the physics blew up)
            return obs_lib.resize(self._last_learned, self.image_size)
        inputs, seed, _ = self._learned_request()
        frame = obs_lib.render_learned(self.renderer, [inputs], [seed], [self._viewer_context])[0]
        self._viewer_context = frame
        return obs_lib.resize(frame, self.image_size)

    # --- save / restore -----------------------------------------------------------------------
    def save_state(self) -> EnvSnapshot:
        """Save the episode (physics, task variables, render seeds) in memory."""
        return EnvSnapshot(self.world.snapshot(), self._task_state(), self._steps, self._render_seed,
                           self._last_learned, self._last_obs)

    def restore_state(self, snap: EnvSnapshot) -> None:
        """Return to a saved episode state; stepping on reproduces the original continuation exactly."""
        self.world.restore(snap.world)
        self._state = None
        self._set_task_state(snap.task)
        self._steps, self._render_seed = snap.step, snap.render_seed
        self._last_learned, self._last_obs, self._broken = snap.last_learned, snap.last_obs, False
        self._obs_current = snap.last_learned is not None
