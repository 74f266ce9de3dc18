"""Goal-conditioned scoring, as in panda-gym and Gymnasium-Robotics.

Goals are ``k`` 3-D positions flattened to ``(3k,)``. An episode step succeeds when **every**
position is within ``distance_threshold`` metres of its goal. Rewards:

* ``sparse``: ``-1`` until success, then ``0``;
* ``dense``: ``-Σ distance`` (metres), so closer is better everywhere.

:meth:`GoalScoring.compute_reward` takes batches (leading axes) so HER can relabel goals in bulk.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def goal_distances(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Per-goal Euclidean distances, ``(..., k)`` from ``(..., 3k)`` arrays."""
    a = np.asarray(achieved, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    if a.shape != d.shape or a.shape[-1] % 3:
        raise ValueError(f"achieved {a.shape} and desired {d.shape} goals must have one shape (..., 3k)")
    return np.linalg.norm((a - d).reshape(*a.shape[:-1], -1, 3), axis=-1)


class GoalScoring:
    """Mixin for a :class:`~worldsim_envs.core.WorldsimEnv` with dict goal observations."""

    goal_conditioned = True
    distance_threshold = 0.05

    def _configure_goal(self, reward_type: str, distance_threshold: float) -> None:
        if reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type {reward_type!r} is not 'sparse' or 'dense'")
        self.reward_type, self.distance_threshold = reward_type, float(distance_threshold)

    def _achieved_goal(self) -> np.ndarray:
        raise NotImplementedError

    def _desired_goal(self) -> np.ndarray:
        raise NotImplementedError

    def is_success(self, achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        """Whether every goal position is within the threshold (batched)."""
        return np.all(goal_distances(achieved_goal, desired_goal) < self.distance_threshold, axis=-1)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> np.ndarray | float:
        """The reward for (batches of) goals; ``info`` is unused and accepted for HER's signature."""
        if self.reward_type == "sparse":
            reward = -(~self.is_success(achieved_goal, desired_goal)).astype(np.float32)
        else:
            reward = -goal_distances(achieved_goal, desired_goal).sum(axis=-1).astype(np.float32)
        return reward if np.ndim(reward) else float(reward)

    def _evaluate(self) -> tuple[float, bool, dict[str, Any]]:
        achieved, desired = self._achieved_goal(), self._desired_goal()
        success = bool(self.is_success(achieved, desired))
        # As in panda-gym, reaching the goal ends the episode (terminated); the time limit truncates.
        return float(self.compute_reward(achieved, desired, None)), success, {"is_success": success}

    def _failure_reward(self) -> float:
        """After a blow-up the state is NaN: score the last good observation (never a success)."""
        last = self._last_obs
        if self.reward_type == "sparse" or last is None:
            return -1.0
        return -float(goal_distances(last["achieved_goal"], last["desired_goal"]).sum())
