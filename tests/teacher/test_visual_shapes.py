"""Poses of visual shapes: the batched quaternion conversion the map pass uses every frame."""

from __future__ import annotations

import numpy as np

from worldsim.teacher.visual_shapes import pose_matrices, pose_matrix


def test_pose_matrices_equal_pose_matrix_row_by_row():
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(12, 4)) * rng.uniform(0.5, 2.0, size=(12, 1))  # not unit: both normalize
    positions = rng.normal(size=(12, 3))
    batch = pose_matrices(positions, quats)
    for pose, position, quat in zip(batch, positions, quats, strict=True):
        np.testing.assert_allclose(pose, pose_matrix(position, quat), atol=1e-12)
        rotation = pose[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(rotation), 1.0)


def test_a_quarter_turn_about_z():
    half = np.sqrt(0.5)
    pose = pose_matrices([[1.0, 2.0, 3.0]], [[0.0, 0.0, half, half]])[0]
    np.testing.assert_allclose(pose @ [1.0, 0.0, 0.0, 1.0], [1.0, 3.0, 3.0, 1.0], atol=1e-12)
