"""Franka Panda tasks (Reach, Push, PickAndPlace, Stack), goal-conditioned as in panda-gym.

The arm is PyBullet's bundled ``franka_panda/panda.urdf`` with its base at (−0.6, 0, 0); the table
top is z = 0. One env step is one output frame of the scene (1/24 s, 10 physics steps).

Control (``control=``):

* ``"ee"`` (default): ``action[:3]`` in [−1, 1] moves the gripper target by up to 5 cm per step
  (inverse kinematics, gripper pointing down; the target never goes below the table);
* ``"joints"``: ``action[:7]`` moves the seven arm joint targets by up to 0.05 rad per step.

The last action entry opens (+) or closes (−) the fingers by up to 2 cm of width per step, unless
the task blocks the gripper (Reach and Push do, as in panda-gym; ``block_gripper`` overrides).
State observations: gripper position (3), gripper velocity (3), finger width (1, when the gripper
is free), then per object position (3), quaternion xyzw (4), velocity (3), angular velocity (3).
Proprioception (``proprio``, 22 values): the seven arm joint positions (rad) and velocities
(rad/s), the finger width (m), the gripper position (m) and its orientation (xyzw).

Cameras: the scene's, and ``"hand"``: a 70° camera on the hand, 7 cm off its axis and looking
along it past the fingers, so it moves with the gripper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gymnasium import spaces
from worldsim_envs.core import WorldsimEnv
from worldsim_envs.goal import GoalScoring

from worldsim import SceneSpec
from worldsim.scene.view import Camera
from worldsim.teacher.camera import quat_to_matrix

ROBOT = "panda"
EE_LINK = "panda_grasptarget"
HAND_LINK = "panda_hand"
HAND_CAMERA_OFFSET = (0.07, 0.0, 0.03)  # m, in the hand frame (z points out past the fingers)
ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGERS = ("panda_finger_joint1", "panda_finger_joint2")
NEUTRAL = dict(zip(ARM, (0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79), strict=False))
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 120.0, 120.0)  # N·m, panda-gym's motor limits
FINGER_FORCE = 170.0
DOWN = (1.0, 0.0, 0.0, 0.0)  # xyzw: gripper pointing at the table
EE_STEP, JOINT_STEP, FINGER_STEP = 0.05, 0.05, 0.2


class PandaTask(GoalScoring, WorldsimEnv):
    """Shared Panda machinery; subclasses name their objects and sample goals.

    Args:
        control: ``"ee"`` or ``"joints"``.
        reward_type: ``"sparse"`` or ``"dense"``.
        distance_threshold: success radius in metres.
        block_gripper: keep the fingers closed and drop the gripper action (default: the task's).
        **kwargs: see :class:`~worldsim_envs.core.WorldsimEnv`.
    """

    objects: tuple[str, ...] = ()
    targets: tuple[str, ...] = ("target",)
    blocks_gripper = False
    object_half = 0.02

    def __init__(self, scene: str | Path | SceneSpec | None = None, control: str = "ee", reward_type: str = "sparse",
                 distance_threshold: float = 0.05, block_gripper: bool | None = None, **kwargs):
        if control not in ("ee", "joints"):
            raise ValueError(f"control {control!r} is not 'ee' or 'joints'")
        self.control = control
        self.block_gripper = self.blocks_gripper if block_gripper is None else bool(block_gripper)
        self._configure_goal(reward_type, distance_threshold)
        self.goal = np.zeros(3 * len(self.targets), np.float32)
        super().__init__(scene, **kwargs)

    # --- actions ------------------------------------------------------------------------------
    def _make_action_space(self) -> spaces.Box:
        n = (3 if self.control == "ee" else 7) + (0 if self.block_gripper else 1)
        return spaces.Box(-1.0, 1.0, (n,), np.float32)

    def _apply_action(self, action: np.ndarray) -> None:
        world = self.world
        joints = self._physics_state().joint_positions[ROBOT]
        names = world.joint_names(ROBOT)
        current = dict(zip(names, joints, strict=False))
        if self.control == "ee":
            ee = world.link_state(ROBOT, EE_LINK)[0]
            target = ee + EE_STEP * action[:3]
            target[2] = max(0.0, target[2])
            solution = world.inverse_kinematics(ROBOT, EE_LINK, target.tolist(), list(DOWN))
            arm = {j: solution[j] for j in ARM}
        else:
            arm = {j: current[j] + JOINT_STEP * float(a) for j, a in zip(ARM, action[:7], strict=False)}
        for (joint, position), force in zip(arm.items(), ARM_FORCES, strict=False):
            world.set_joint_target(ROBOT, joint, position, force)
        width = 0.0
        if not self.block_gripper:
            width = current[FINGERS[0]] + current[FINGERS[1]] + FINGER_STEP * float(action[-1])
        for finger in FINGERS:
            world.set_joint_target(ROBOT, finger, float(np.clip(width / 2, 0.0, 0.04)), FINGER_FORCE)
        world.step_frames(1)

    # --- observations -------------------------------------------------------------------------
    def _state_vector(self) -> np.ndarray:
        world = self.world
        ee, _, ee_vel = world.link_state(ROBOT, EE_LINK)
        parts = [ee, ee_vel]
        state = self._physics_state()
        if not self.block_gripper:
            fingers = state.joint_positions[ROBOT][[world.joint_names(ROBOT).index(f) for f in FINGERS]]
            parts.append([fingers.sum()])
        for name in self.objects:
            i = state.index(name)
            parts += [state.positions[i], state.quaternions[i], state.velocities[i], state.angular_velocities[i]]
        return np.concatenate([np.asarray(p, np.float32).ravel() for p in parts])

    def _proprio_vector(self) -> np.ndarray:
        state, world = self._physics_state(), self.world
        names = world.joint_names(ROBOT)
        arm = [names.index(j) for j in ARM]
        fingers = [names.index(f) for f in FINGERS]
        ee, orientation = world.link_state(ROBOT, EE_LINK)[:2]
        parts = [state.joint_positions[ROBOT][arm], state.joint_velocities[ROBOT][arm],
                 [state.joint_positions[ROBOT][fingers].sum()], ee, orientation]
        return np.concatenate([np.asarray(p, np.float32).ravel() for p in parts])

    def _mounted_camera(self, name: str) -> Camera | None:
        if name != "hand":
            return None
        position, orientation = self.world.link_state(ROBOT, HAND_LINK)[:2]
        eye = position + quat_to_matrix(orientation) @ np.asarray(HAND_CAMERA_OFFSET)
        return Camera(name="hand", position=eye.tolist(), orientation=[float(q) for q in orientation], fov_deg=70.0,
                      near=0.01, far=5.0, resolution=[self.image_size, self.image_size])

    def _object_goal(self) -> bool:
        return bool(self.objects)

    def _achieved_goal(self) -> np.ndarray:
        if not self.objects:
            return self.world.link_state(ROBOT, EE_LINK)[0].astype(np.float32)
        state = self._physics_state()
        return np.concatenate([state.positions[state.index(o)] for o in self.objects]).astype(np.float32)

    def _desired_goal(self) -> np.ndarray:
        return self.goal.copy()

    # --- episodes -----------------------------------------------------------------------------
    def _reset_task(self) -> None:
        self.world.reset_joints(ROBOT, {**NEUTRAL, FINGERS[0]: 0.0, FINGERS[1]: 0.0})
        for name, position in zip(self.objects, self._sample_objects(), strict=False):
            self.world.set_pose(name, position.tolist(), [0, 0, 0, 1])
        self.goal = self._sample_goal().astype(np.float32)
        for name, position in zip(self.targets, self.goal.reshape(-1, 3), strict=False):
            self.world.set_pose(name, position.tolist(), [0, 0, 0, 1])

    def _uniform_xy(self, half_range: float, z: float) -> np.ndarray:
        xy = self.np_random.uniform(-half_range, half_range, size=2)
        return np.array([xy[0], xy[1], z])

    def _sample_objects(self) -> list[np.ndarray]:
        return []

    def _sample_goal(self) -> np.ndarray:
        raise NotImplementedError

    def _task_state(self) -> dict:
        return {"goal": self.goal.copy()}

    def _set_task_state(self, state: dict) -> None:
        self.goal = state["goal"].copy()


class PandaReach(PandaTask):
    """Move the gripper to a target in a 30 cm cube above the table centre."""

    default_scene = "panda_reach.yaml"
    blocks_gripper = True

    def _sample_goal(self) -> np.ndarray:
        return self.np_random.uniform([-0.15, -0.15, 0.0], [0.15, 0.15, 0.3])


class PandaPush(PandaTask):
    """Push a 4 cm cube (1 kg) along the table to a target on the table."""

    default_scene = "panda_push.yaml"
    objects = ("object",)
    blocks_gripper = True

    def _sample_objects(self) -> list[np.ndarray]:
        return [self._uniform_xy(0.15, self.object_half)]

    def _sample_goal(self) -> np.ndarray:
        return self._uniform_xy(0.15, self.object_half)


class PandaPickAndPlace(PandaTask):
    """Pick a cube up and hold it at a target that floats up to 20 cm above the table (70 % of goals)."""

    default_scene = "panda_pick_and_place.yaml"
    objects = ("object",)

    def _sample_objects(self) -> list[np.ndarray]:
        return [self._uniform_xy(0.15, self.object_half)]

    def _sample_goal(self) -> np.ndarray:
        goal = self._uniform_xy(0.15, self.object_half)
        if self.np_random.random() >= 0.3:
            goal[2] += self.np_random.uniform(0.0, 0.2)
        return goal


class PandaStack(PandaTask):
    """Put the red cube on a table target and the blue cube on top of it."""

    default_scene = "panda_stack.yaml"
    objects = ("object1", "object2")
    targets = ("target1", "target2")

    def _sample_objects(self) -> list[np.ndarray]:
        first = self._uniform_xy(0.15, self.object_half)
        while True:  # keep the cubes apart so they do not start interpenetrating
            second = self._uniform_xy(0.15, self.object_half)
            if np.linalg.norm(second[:2] - first[:2]) > 0.06:
                return [first, second]

    def _sample_goal(self) -> np.ndarray:
        base = self._uniform_xy(0.15, self.object_half)
        return np.concatenate([base, base + [0.0, 0.0, 2 * self.object_half]])
