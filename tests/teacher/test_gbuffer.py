"""Condition maps against geometry: projection, depth, world positions, normals."""

from __future__ import annotations

import numpy as np

from tests.conftest import ROOT
from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene, scene_from_dict
from worldsim.teacher.camera import project
from worldsim.teacher.tiny import lit_picture, render_frame


def test_projected_centre_lands_in_its_mask():
    spec = load_scene(ROOT / "scenes" / "billiards_break.yaml")
    with PhysicsWorld(spec) as world:
        world.step_frames(12)
        state = world.state()
        frame = render_frame(world, resolution=(128, 128))
    uv, depth = project(state.positions, frame.intrinsics, frame.extrinsics)
    for i, name in enumerate(state.names):
        if spec.body(name).type != "sphere":
            continue
        col, row = np.floor(uv[i]).astype(int)
        window = frame.segmentation[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2]
        assert (window == i).any(), name  # within a pixel of its own mask


def test_depth_positions_normals_of_a_floor_seen_from_above():
    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"}],
                            "cameras": [{"position": [0, 0, 3.0], "target": [0, 0, 0], "up": [0, 1, 0],
                                         "fov_deg": 40, "resolution": [48, 32]}]})
    with PhysicsWorld(spec) as world:
        frame = render_frame(world)
    assert frame.rgb.shape == (32, 48, 3) and frame.rgb.dtype == np.uint8
    assert (frame.segmentation == 0).all()
    assert np.allclose(frame.depth, 3.0, atol=0.01)
    assert np.allclose(frame.world_position[..., 2], 0.0, atol=0.01)
    assert np.allclose(frame.normals[2:-2, 2:-2], [0, 0, 1], atol=1e-3)
    # A pixel's world position projects back onto that pixel's centre.
    uv, _ = project(frame.world_position[10:11, 20], frame.intrinsics, frame.extrinsics)
    assert np.allclose(uv[0], [20.5, 10.5], atol=0.05)


def test_albedo_is_unlit_and_rgb_is_lit():
    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane", "color": [0.5, 0.5, 0.5]},
                                       {"name": "ball", "type": "sphere", "radius": 0.3, "position": [0, 0, 0.3],
                                        "color": [1, 0, 0]}],
                            "light": {"ambient": 0.3, "diffuse": 0.5, "shadows": True}})
    with PhysicsWorld(spec) as world:
        frame = render_frame(world, resolution=(64, 64))
        again = render_frame(world, resolution=(64, 64))
        alone = lit_picture(world, resolution=(64, 64))
    ball = frame.segmentation == 1
    # Unlit red is uniform over the sphere; the lit sphere is shaded, so its red varies.
    assert frame.albedo[ball][:, 0].std() < 2 and frame.rgb[ball][:, 0].std() > 10
    # TinyRenderer keeps the previous call's light coefficients: a second lit render must still be lit.
    assert np.array_equal(frame.rgb, again.rgb)
    assert np.array_equal(frame.rgb, alone)  # the picture without the maps is the same picture


def test_normals_stay_on_their_object_and_skip_depth_jumps():
    """A tilted plane (object 0) beside a box face (object 1), and a step inside the plane: every pixel's
    normal is its own surface's, at the boundary and on both sides of the step."""
    from worldsim.teacher.gbuffer import normals_from_positions

    height, width = 12, 12
    jj, ii = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    pos = np.stack([jj * 0.1, ii * 0.1, 0.05 * jj], -1)  # plane z = x / 2: normal (-1, 0, 2) / √5
    pos[:, 6:, 2] += 1.0  # a step along the plane's normal direction inside the same object
    seg = np.zeros((height, width), np.int32)
    box = ii >= 9
    pos[box] = np.stack([jj[box] * 0.1, np.full(box.sum(), 0.9, np.float32), 5.0 - ii[box] * 0.1], -1)  # plane y = 0.9
    seg[box] = 1
    seg[0, 0] = -1
    normals = normals_from_positions(pos, seg, np.array([0.0, 0.0, 50.0]))
    plane = np.array([-1.0, 0.0, 2.0]) / np.sqrt(5.0)
    np.testing.assert_allclose(normals[(seg == 0)], np.broadcast_to(plane, ((seg == 0).sum(), 3)), atol=1e-5)
    np.testing.assert_allclose(np.abs(normals[seg == 1][:, 1]), 1.0, atol=1e-5)
    assert (normals[0, 0] == 0).all()


def test_extrinsics_follow_a_camera_moved_after_first_use():
    """Poses are remembered by value: moving a camera (a mutable model) gives its new pose."""
    from worldsim.scene.view import Camera
    from worldsim.teacher.camera import camera_to_world_rotation, extrinsics, project

    cam = Camera(position=[2.0, 0.0, 1.0], target=[0.0, 0.0, 0.0])
    first = extrinsics(cam)
    first[0, 0] = 99.0  # a caller's copy: the remembered pose stays intact
    cam.position = [0.0, 2.0, 1.0]
    moved = extrinsics(cam)
    assert not np.allclose(moved, extrinsics(Camera(position=[2.0, 0.0, 1.0], target=[0.0, 0.0, 0.0])))
    uv, depth = project(np.zeros((1, 3)), np.eye(3), moved)
    assert np.allclose(uv, 0.0, atol=1e-9) and np.isclose(depth[0], np.sqrt(5.0))  # the target is dead ahead
    assert np.allclose(camera_to_world_rotation(cam), moved[:3, :3].T)
