"""``WorldsimEnv``: the Gymnasium base every worldsim task builds on.

It owns one :class:`worldsim.PhysicsWorld` built from a scene file, turns the world into
observations in any mode (or combination of modes, from any cameras) of
:mod:`worldsim_envs.observations`, checks actions, and ends an episode cleanly
(``info["physics_error"]``) if the physics blows up. A task subclass says what the actions do,
what the state and proprioception vectors hold, and how it is scored.
"""

from __future__ import annotations

import importlib.util
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from worldsim_envs import observations as obs_lib
from worldsim_envs import randomization

from worldsim import PhysicsError, PhysicsWorld, SceneSpec, load_scene, sample
from worldsim.conditioning.arrays import from_frames
from worldsim.physics.decimate import visual_faces_for
from worldsim.physics.world import Snapshot
from worldsim.scene.assets import SCENES_DIR
from worldsim.scene.view import Camera
from worldsim.teacher.tiny import lit_picture

TASK_SCENES = SCENES_DIR / "tasks"
_HAS_PYGAME = importlib.util.find_spec("pygame") is not None


@dataclass
class EnvSnapshot:
    """Everything needed to continue an episode exactly from where :meth:`WorldsimEnv.save_state` was called."""

    world: Snapshot
    task: dict[str, Any]
    step: int
    render_seed: int
    last_learned: dict[str, np.ndarray]
    last_obs: Any
    look: randomization.VisualDraw | None


class WorldsimEnv(gym.Env):
    """Base environment: a scene, its physics, and observations in one or several modes.

    Args:
        scene: a scene file path, a :class:`worldsim.SceneSpec`, or None for the task's bundled scene.
        obs_mode: ``state``, ``proprio``, ``rgb``, ``rgb_reference``, ``depth``, ``segmentation``, or
            a ``+`` combination (``"proprio+rgb+depth"``); see :mod:`worldsim_envs.observations`
            for the spaces.
        render_mode: None, ``"rgb_array"`` or ``"human"`` (a pygame window; needs ``pygame``).
        image_size: side of square pixel observations and of ``render()`` frames (any int ≥ 8).
        camera: name of the one scene camera to observe from (default: its first).
        cameras: several cameras, by scene name or ``"hand"`` (a camera on the robot's hand, for
            tasks with a robot); exclusive with ``camera``.
        privileged: False keeps object state out of observations: ``state`` is refused (use
            ``proprio``) and ``achieved_goal`` moves from the observation to ``info`` when it holds
            object positions.
        visual_randomization: new colours, textures, light and camera jitter at every reset
            (:mod:`worldsim_envs.randomization` lists the ranges).
        checkpoint: learned-renderer checkpoint (name or path; None = the shipped ``raster`` one, the
            TinyRenderer look trained at 64², the fastest for small observations).
        render_steps: sampler steps of the learned renderer (1, 2 or 4 are sensible). 1 by default:
            the shipped ``raster`` checkpoint at 1 step scores 24.3 dB / SSIM 0.85 on held-out 64²
            clips, 2 and 4 steps add 0.1 dB (``worldsim eval --checkpoint raster --steps N``).
        device: torch device for the learned renderer (``cpu``, ``cuda``, ``auto``).
        compile_renderer: run the learned renderer under ``torch.compile``: ~1.4× faster frames
            once compiled, after a one-off ~10–30 s at the first frame (and per new batch size);
            for long training runs (:func:`worldsim.render.compiled`).
        render_backend: what ``render()`` draws: ``"learned"`` (the world model) or ``"pybullet"``.

    Checkpoint and device problems are reported here, at ``make``, not at the first frame.
    """

    # "human" is offered only where pygame can open its window (Gymnasium's check_env tries every mode)
    metadata = {"render_modes": ["rgb_array", "human"] if _HAS_PYGAME else ["rgb_array"], "render_fps": 24}
    default_scene = ""  # file name under scenes/tasks/
    goal_conditioned = False

    def __init__(self, scene: str | Path | SceneSpec | None = None, obs_mode: str = "state",
                 render_mode: str | None = None, image_size: int = 64, camera: str | None = None,
                 cameras: list[str] | None = None, privileged: bool = True, visual_randomization: bool = False,
                 checkpoint: str | None = None, render_steps: int = 1, device: str = "cpu",
                 compile_renderer: bool = False, render_backend: str = "learned"):
        self._check_arguments(render_mode, render_backend, image_size, camera, cameras)
        self._state = None  # the world's PhysicsState, read at most once per step (see _physics_state)
        self.obs_mode, self.modes = obs_mode, obs_lib.parse_obs_mode(obs_mode)
        self.privileged, self.visual_randomization = bool(privileged), bool(visual_randomization)
        if not self.privileged and "state" in self.modes:
            raise ValueError("obs_mode 'state' holds the objects' true poses; with privileged=False use 'proprio'")
        self.render_mode, self.render_backend = render_mode, render_backend
        self.image_size = int(image_size)
        self._renderer_args = (checkpoint, device, render_steps, bool(compile_renderer))
        self.base_spec = scene if isinstance(scene, SceneSpec) else load_scene(scene or TASK_SCENES / self.default_scene)
        self.camera_names = list(cameras) if cameras else [camera or self.base_spec.cameras[0].name]
        self.metadata = {**self.metadata, "render_fps": self.base_spec.sim.fps}
        self.world: PhysicsWorld | None = None
        self._start: Snapshot | None = None
        self._build(self.base_spec)
        for name in self.camera_names:
            self._camera(name)  # unknown names fail here
        self.action_space = self._make_action_space()
        self.observation_space = self._make_observation_space()
        self._steps, self._render_seed, self._version = 0, 0, 0
        self._look: randomization.VisualDraw | None = None
        self._last_learned: dict[str, np.ndarray] = {}  # per camera, the frame of the last observation
        self._last_obs: Any = None
        self._obs_current = False  # does _last_learned show the world as it is now?
        self._broken, self._closed = False, False
        self._viewer: tuple[tuple, np.ndarray] | None = None  # ((state version, time), frame) of the last render()
        self._window = None
        if "rgb" in self.modes or (render_mode is not None and render_backend == "learned"):
            _ = self.renderer  # a missing checkpoint or an absent device fails at make

    @staticmethod
    def _check_arguments(render_mode, render_backend, image_size, camera, cameras) -> None:
        if render_mode not in (None, "rgb_array", "human"):
            raise ValueError(f"render_mode {render_mode!r} is not supported; use None, 'rgb_array' or 'human'")
        if render_mode == "human" and not _HAS_PYGAME:
            raise ValueError("render_mode='human' opens a pygame window and needs pygame (pip install pygame); "
                             "or use render_mode='rgb_array' and show the frames yourself")
        if render_backend not in ("learned", "pybullet"):
            raise ValueError(f"render_backend {render_backend!r} is not 'learned' or 'pybullet'")
        if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 8:
            raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
        if camera is not None and cameras:
            raise ValueError("give camera= (one) or cameras= (several), not both")
        if cameras is not None and (isinstance(cameras, str) or not len(cameras)):
            raise ValueError(f"cameras must be a non-empty list of camera names, got {cameras!r}")

    # --- what a task defines ------------------------------------------------------------------
    def _make_action_space(self) -> spaces.Box:
        raise NotImplementedError

    def _state_vector(self) -> np.ndarray:
        """The flat ``state`` observation (float32)."""
        raise NotImplementedError

    def _proprio_vector(self) -> np.ndarray:
        """The flat ``proprio`` observation (float32); tasks without a robot have none."""
        raise ValueError(f"{type(self).__name__} has no robot, so no 'proprio' observation; use 'state' or pixels")

    def _mounted_camera(self, name: str) -> Camera | None:
        """A camera that moves with the robot (e.g. ``"hand"``), posed for the current state; None if unknown."""
        return None

    def _object_goal(self) -> bool:
        """Whether ``achieved_goal`` holds object positions (privileged) rather than the robot's own."""
        return True

    def _reset_task(self) -> None:
        """Place objects and goals for a new episode, drawing randomness from ``self.np_random``."""

    def _apply_action(self, action: np.ndarray) -> None:
        """Turn a checked, clipped action into physics and advance time."""
        raise NotImplementedError

    def _evaluate(self) -> tuple[float, bool, dict[str, Any]]:
        """(reward, terminated, info) after a step."""
        raise NotImplementedError

    def _reset_info(self) -> dict[str, Any]:
        """The info ``reset`` returns: the step info's keys, so recorders see one structure."""
        return {"is_success": False}

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
        # small observations draw lighter visual meshes (worldsim.physics.decimate.visual_faces_for)
        self.world = PhysicsWorld(spec, seed=0, visual_faces=visual_faces_for(self.image_size))
        self._start = self.world.snapshot()

    def _fresh_world(self) -> None:
        """A scene with a ``randomize`` section is re-drawn and rebuilt; otherwise the start state is restored."""
        if self.base_spec.randomize:
            self._build(sample(self.base_spec, int(self.np_random.integers(2**31))))
        else:
            self.world.restore(self._start)

    def close(self) -> None:
        """Disconnect the physics client; the env cannot be used afterwards."""
        if self.world is not None:
            self.world.close()
            self.world = None
        if self._window is not None:
            import pygame

            pygame.display.quit()
            self._window = None
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise gym.error.ClosedEnvironmentError(f"{type(self).__name__} was closed; make a new env")

    # --- spaces -------------------------------------------------------------------------------
    def _camera(self, name: str) -> Camera:
        """The camera called ``name`` as it is now (mounted cameras follow the robot; jitter applied)."""
        mounted = self._mounted_camera(name)
        if mounted is None:
            names = [c.name for c in self.base_spec.cameras]
            if name not in names:
                raise ValueError(f"camera {name!r} is not in the scene (it has {', '.join(names)})"
                                 + ("; 'hand' needs a task with a robot" if name == "hand" else ""))
            mounted = self.base_spec.camera(name)
        return randomization.jitter(mounted, getattr(self, "_look", None))

    @property
    def camera(self) -> Camera:
        """The first observed camera as it is now (jittered, or riding on the robot)."""
        return self._camera(self.camera_names[0])

    @property
    def composite(self) -> bool:
        """Whether observations are a flat Dict (several modes or cameras) rather than one array."""
        return len(self.modes) > 1 or len(self.camera_names) > 1

    def _key(self, camera: str, mode: str) -> str:
        return mode if len(self.camera_names) == 1 else f"{camera}_{mode}"

    def _parts_space(self) -> dict[str, spaces.Space]:
        parts: dict[str, spaces.Space] = {}
        for mode in self.modes:
            if mode in obs_lib.VECTOR_MODES:
                n = (self._state_vector() if mode == "state" else self._proprio_vector()).shape[0]
                parts[mode] = spaces.Box(-np.inf, np.inf, (n,), np.float32)
        for camera in self.camera_names:
            far = self._camera(camera).far
            for mode in self.modes:
                if mode in obs_lib.PIXEL_MODES:
                    parts[self._key(camera, mode)] = obs_lib.pixel_space(mode, self.image_size, len(self.base_spec.bodies), far)
        return parts

    def _goal_keys(self) -> tuple[str, ...]:
        if not self.goal_conditioned:
            return ()
        hide = not self.privileged and self._object_goal()
        return ("desired_goal",) if hide else ("achieved_goal", "desired_goal")

    def _make_observation_space(self) -> spaces.Space:
        parts = self._parts_space()
        goals = {k: spaces.Box(-np.inf, np.inf, self._achieved_goal().shape, np.float32) for k in self._goal_keys()}
        if self.composite:
            return spaces.Dict({**parts, **goals})
        (core,) = parts.values()
        return spaces.Dict({"observation": core, **goals}) if goals else core

    # --- observations -------------------------------------------------------------------------
    @property
    def renderer(self):
        """The learned renderer (loaded on first use, shared by every env in the process)."""
        checkpoint, device, steps, compile_ = self._renderer_args
        _check_device(device)
        return obs_lib.shared_renderer(checkpoint, device, steps, compile_)

    def _learned_requests(self, frames: dict[str, Any] | None = None) -> list[tuple[dict, int, np.ndarray | None]]:
        """Per camera (inputs, seed, context) for this step's learned frames; the vector env batches them."""
        requests, pbr = [], self.renderer.model.config.pbr
        for k, name in enumerate(self.camera_names):
            frame = frames[name] if frames else obs_lib.capture(self.world, "rgb", self.image_size, self._camera(name))
            seed = (self._render_seed * 1_000_003 + self._steps * 131 + k) % 2**63
            requests.append((from_frames(self.world.spec, [frame], pbr=pbr), seed, self._last_learned.get(name)))
        return requests

    def _capture(self) -> dict[str, Any]:
        pixel_modes = tuple(m for m in self.modes if m in obs_lib.PIXEL_MODES)
        if not pixel_modes:
            return {}
        return {name: obs_lib.capture(self.world, pixel_modes, self.image_size, self._camera(name)) for name in self.camera_names}

    def _observe(self, learned: list[np.ndarray] | None = None, frames: dict[str, Any] | None = None) -> Any:
        """The observation now. With ``rgb``, ``learned`` are this step's frames per camera (drawn here if not given)."""
        frames = self._capture() if frames is None else frames
        parts: dict[str, Any] = {}
        if "state" in self.modes:
            parts["state"] = self._state_vector()
        if "proprio" in self.modes:
            parts["proprio"] = self._proprio_vector()
        if "rgb" in self.modes:
            if learned is None:
                learned = obs_lib.render_learned(self.renderer, *map(list, zip(*self._learned_requests(frames), strict=True)))
            self._last_learned = dict(zip(self.camera_names, learned, strict=True))
            self._obs_current = True
        for name in self.camera_names:
            for mode in self.modes:
                if mode == "rgb":
                    parts[self._key(name, mode)] = self._last_learned[name]
                elif mode in obs_lib.PIXEL_MODES:
                    parts[self._key(name, mode)] = obs_lib.pixels(frames[name], mode)
        goal_parts = {k: getattr(self, f"_{k}")() for k in self._goal_keys()}
        if self.composite:
            obs = {**parts, **goal_parts}
        else:
            (core,) = parts.values()
            obs = {"observation": core, **goal_parts} if goal_parts else core
        self._last_obs = obs
        return obs

    def _with_goal_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """Put the hidden achieved goal in ``info`` (rewards can still be recomputed, e.g. by HER)."""
        if self.goal_conditioned and "achieved_goal" not in self._goal_keys():
            info = {**info, "achieved_goal": self._achieved_goal()}
        return info

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._begin_episode(seed)
        obs = self._observe()
        self._show()
        return obs, self._with_goal_info(self._reset_info())

    def _begin_episode(self, seed: int | None) -> None:
        """Everything reset does except observing (the vector env observes in a batch)."""
        self._check_open()
        gym.Env.reset(self, seed=seed)  # seeds self.np_random, which draws every random choice below
        self._fresh_world()
        self._reset_task()
        self._steps, self._broken = 0, False
        self._render_seed = int(self.np_random.integers(2**31))
        if self.visual_randomization:
            self._look = randomization.draw(self.world, self.camera_names, self.np_random)
            randomization.apply(self.world, self._look)
        self._last_learned, self._viewer, self._state = {}, None, None
        self._version += 1

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
        self._show()
        return obs, reward, terminated, truncated, info

    def _step_physics(self, action, checked: bool = False) -> tuple[float, bool, bool, dict[str, Any]]:
        """Check the action (unless the caller did) and advance the physics; observing is left to the caller."""
        self._check_open()
        if self._broken:
            raise gym.error.ResetNeeded("the physics blew up in this episode; call reset() before step()")
        action = action if checked else self.check_action(action)
        self._steps += 1
        self._version += 1
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
        return float(reward), bool(terminated), False, self._with_goal_info(info)

    def _failure_reward(self) -> float:
        return -1.0

    def render(self) -> np.ndarray | None:
        """``uint8 (H,W,3)`` of the current state from the first camera (``render_backend`` decides who draws).

        The same state always gives the same frame: a second call returns the first's.
        """
        self._check_open()
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode='rgb_array'; returning None")
            return None
        camera = self.camera_names[0]
        if self.render_backend == "pybullet":
            return lit_picture(self.world, self._camera(camera), (self.image_size, self.image_size))
        if "rgb" in self.modes and camera in self._last_learned and (self._obs_current or self._broken):
            return self._last_learned[camera]  # the observation shows this state (or the last good one)
        state_key = (self._version, self.world.time)  # a one-shot step renders many frames in one version
        if self._viewer is not None and self._viewer[0] == state_key:
            return self._viewer[1]
        frame = obs_lib.capture(self.world, "rgb", self.image_size, self._camera(camera))
        seed = (self._render_seed * 1_000_003 + self._steps * 131 + 977) % 2**63
        context = self._viewer[1] if self._viewer is not None else None
        inputs = from_frames(self.world.spec, [frame], pbr=self.renderer.model.config.pbr)
        image = obs_lib.render_learned(self.renderer, [inputs], [seed], [context])[0]
        self._viewer = (state_key, image)
        return image

    def _show(self) -> None:
        """In ``human`` mode, put the current frame in the window."""
        if self.render_mode != "human":
            return
        import pygame

        image = self.render_rgb()
        if self._window is None:
            pygame.init()
            self._window = pygame.display.set_mode((self.image_size * 4, self.image_size * 4))
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(image.transpose(1, 0, 2)))
        self._window.blit(pygame.transform.scale(surface, self._window.get_size()), (0, 0))
        pygame.event.pump()
        pygame.display.flip()

    def render_rgb(self) -> np.ndarray:
        """The frame ``render()`` would return in ``rgb_array`` mode, whatever ``render_mode`` is."""
        mode, self.render_mode = self.render_mode, "rgb_array"
        try:
            return self.render()
        finally:
            self.render_mode = mode

    # --- save / restore -----------------------------------------------------------------------
    def save_state(self) -> EnvSnapshot:
        """Save the episode (physics, task variables, render seeds, the random look) in memory.

        Each snapshot holds a copy of the physics world: free it with :meth:`remove_state`.
        """
        self._check_open()
        return EnvSnapshot(self.world.snapshot(), self._task_state(), self._steps, self._render_seed,
                           dict(self._last_learned), self._last_obs, self._look)

    def restore_state(self, snap: EnvSnapshot) -> None:
        """Return to a saved episode state; stepping on reproduces the original continuation exactly.

        Raises:
            ValueError: the snapshot was removed, or saved in another env (or before a randomized
                reset rebuilt this env's world).
        """
        self._check_open()
        self.world.restore(snap.world)
        self._state = None
        self._set_task_state(snap.task)
        self._steps, self._render_seed = snap.step, snap.render_seed
        self._last_learned, self._last_obs, self._broken = dict(snap.last_learned), snap.last_obs, False
        self._obs_current = bool(snap.last_learned)
        if snap.look is not self._look:
            self._look = snap.look
            if snap.look is not None:
                randomization.apply(self.world, snap.look)
        self._version += 1
        self._viewer = None

    def remove_state(self, snap: EnvSnapshot) -> None:
        """Free a snapshot taken by :meth:`save_state` (as ``removeState`` in panda-gym)."""
        self._check_open()
        self.world.remove_snapshot(snap.world)


def _check_device(device: str) -> None:
    """Fail with a clear message for a device this machine lacks."""
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA GPU here; use device='cpu' (or 'auto')")
