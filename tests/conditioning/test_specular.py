"""The area lights' glare maps against the geometry of a mirror reflection."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.conditioning.specular import area_specular_map, camera_positions, light_frame
from worldsim.scene.view import AreaLight

CAMERA = np.array([2.0, 0.0, 1.0])


class _Scene:
    def __init__(self, *lights):
        self.area_lights = list(lights)


def _floor(roughness: float, xs: np.ndarray, ys: np.ndarray | None = None):
    """A floor at z = 0 sampled on ``xs × ys``, seen from CAMERA; one frame."""
    gx, gy = np.meshgrid(xs, np.zeros(1) if ys is None else ys, indexing="ij")
    position = np.stack([gx, gy, np.zeros_like(gx)], -1)[None]
    normals = np.broadcast_to(np.array([0.0, 0.0, 1.0]), position.shape).copy()
    pbr = np.broadcast_to(np.array([round(roughness * 255), 0, 128], np.uint8), position.shape).copy()
    extrinsics = np.eye(4)[None]
    extrinsics[0, :3, 3] = -CAMERA  # rotation I: the camera sits at -Rᵀt = CAMERA
    return position, normals, pbr, extrinsics


def test_camera_positions_invert_the_extrinsics():
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    extrinsics = np.eye(4)
    extrinsics[:3, :3], extrinsics[:3, 3] = rot, -rot @ CAMERA
    assert np.allclose(camera_positions(extrinsics), CAMERA)


def test_a_mirror_floor_shows_the_square_where_its_mirror_image_projects():
    """Light 2 m above the origin, facing down, 0.5 m wide: its mirror image (z = -2) seen from
    (2, 0, 1) crosses the floor at x = 2 - (2 - x')/3, so the square covers x in [1.25, 1.417]."""
    light = AreaLight(position=[0.0, 0.0, 2.0], target=[0.0, 0.0, 0.0], size=0.5, power=100.0)
    xs = np.array([1.20, 1.27, 1.3333, 1.40, 1.47])
    glare = area_specular_map(_Scene(light), *_floor(0.0, xs))[0, :, 0]
    lobe, mirror = glare[..., 0], glare[..., 1]
    assert mirror[0] == 0 and mirror[-1] == 0 and (mirror[1:4] > 0).all()
    cos_view = 1 / np.linalg.norm(CAMERA - [4 / 3, 0, 0])  # the view vector's height over its length
    f0 = 0.08 * 128 / 255
    expected = (f0 + (1 - f0) * (1 - cos_view) ** 5) * 100 / (np.pi * 0.25)  # Fresnel × the light's radiance
    assert mirror[2] == pytest.approx(expected, rel=1e-3)
    assert lobe.argmax() == 2  # the smooth lobe peaks at the mirror point too


def test_rougher_surfaces_spread_the_glare_and_keep_its_energy():
    light = AreaLight(position=[0.0, 0.0, 2.0], target=[0.0, 0.0, 0.0], size=0.5, power=100.0)
    xs, ys = np.linspace(0.3, 2.0, 240), np.linspace(-0.8, 0.8, 200)
    sharp = area_specular_map(_Scene(light), *_floor(0.0, xs, ys))[0, ..., 1]
    rough = area_specular_map(_Scene(light), *_floor(0.4, xs, ys))[0, ..., 1]
    assert rough.max() < 0.5 * sharp.max() and (rough > 0).sum() > 2 * (sharp > 0).sum()
    assert rough.sum() == pytest.approx(sharp.sum(), rel=0.25)


def test_no_glare_without_lights_behind_the_light_or_on_empty_pixels():
    position, normals, pbr, extrinsics = _floor(0.2, np.linspace(0.5, 1.8, 8))
    assert not area_specular_map(_Scene(), position, normals, pbr, extrinsics).any()
    facing_up = AreaLight(position=[0.0, 0.0, 2.0], target=[0.0, 0.0, 4.0], size=0.5, power=100.0)
    assert not area_specular_map(_Scene(facing_up), position, normals, pbr, extrinsics).any()
    down = AreaLight(position=[0.0, 0.0, 2.0], target=[0.0, 0.0, 0.0], size=0.5, power=100.0)
    assert not area_specular_map(_Scene(down), position, np.zeros_like(normals), pbr, extrinsics).any()


def test_the_square_is_aimed_as_the_teacher_aims_it():
    """Blender's to_track_quat('-Z', 'Y'): -z along the aim, y as close to world up as it allows."""
    forward, x, y = light_frame([1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    assert np.allclose(forward, [-1 / np.sqrt(2), 0, -1 / np.sqrt(2)])
    assert abs(y @ forward) < 1e-9 and y[2] > 0 and abs(x @ forward) < 1e-9
    assert np.allclose(np.cross(x, y), -forward)  # a right-handed frame whose z is -forward
