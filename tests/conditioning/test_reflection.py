"""The sun's and the sky's reflections on glossy surfaces, against their closed forms on a flat floor."""

from __future__ import annotations

import math

import pytest
import torch

from worldsim.conditioning.reflection import fresnel, reflection_maps

HORIZON, ZENITH = torch.tensor([0.9, 0.6, 0.3]), torch.tensor([0.1, 0.3, 1.0])


def _maps(view: torch.Tensor, roughness: float, metallic: float = 0.0, sun_elevation: float = 30.0,
          visible: float = 1.0, sun_angle: float = 0.5) -> torch.Tensor:
    """The maps of floor points (normal +z) seen along unit ``view`` directions ``(N, 3)`` (to the
    camera), lit by a 4 W/m² sun at ``sun_elevation`` in the x-z plane, opposite a camera towards +x."""
    n = len(view)
    normals = torch.tensor([0.0, 0.0, 1.0]).expand(1, 1, 1, n, 3)
    pbr = torch.tensor([roughness, metallic, 0.5]).expand(1, 1, 1, n, 3)
    s = math.radians(sun_elevation)
    light = torch.tensor([[-math.cos(s), 0.0, math.sin(s), 1.0, 1.0, 1.0, 0.3, 1.0, 0.5, 1.0]])
    environment = torch.cat([torch.tensor([4.0 / 5, sun_angle / 10, 1.0]), HORIZON, ZENITH])[None]
    ones = torch.ones(1, 1, 1, n)
    ambient = torch.full((1, 1, 1, n, 3), 0.5)
    return reflection_maps(normals, view.reshape(1, 1, 1, n, 3), pbr, light, environment, ones * visible, ones,
                           ambient)[0, 0, 0]


def _floor(roughness: float, n: int = 181, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_maps` for views at elevations 0.5°..90° in the sun's plane; the maps and the elevations."""
    elevation = torch.linspace(0.5, 90.0, n)
    e = torch.deg2rad(elevation)
    view = torch.stack([torch.cos(e), torch.zeros_like(e), torch.sin(e)], -1)
    return _maps(view, roughness, **kwargs), elevation


def _reflected_irradiance(roughness: float, sun_angle: float) -> float:
    """The sun highlight's radiance integrated over the hemisphere of views, ∫ L cos θ dω (W/m²)."""
    el, az = torch.meshgrid(torch.linspace(0.05, 89.95, 900), torch.linspace(-180, 180, 1441)[:-1], indexing="ij")
    e, a = torch.deg2rad(el), torch.deg2rad(az)
    view = torch.stack([torch.cos(e) * torch.cos(a), torch.cos(e) * torch.sin(a), torch.sin(e)], -1).reshape(-1, 3)
    radiance = _maps(view, roughness, sun_angle=sun_angle)[:, 3].reshape(el.shape)
    solid_angle = torch.cos(e) * math.radians(0.1) * math.radians(0.25)
    return float((radiance * torch.sin(e) * solid_angle).sum())


def test_a_mirror_floor_reflects_the_sky_along_the_mirrored_ray_times_fresnel():
    maps, elevation = _floor(roughness=0.0)
    e = torch.deg2rad(elevation)
    expected = fresnel(torch.sin(e), torch.tensor(0.0), torch.tensor(0.5))[:, None] * (
        HORIZON + (ZENITH - HORIZON) * torch.sin(e)[:, None])  # the mirrored ray rises as steeply as the view ray
    assert torch.allclose(maps[:, :3], expected, atol=1e-5)
    assert maps[-1, :3] == pytest.approx((0.04 * ZENITH).tolist(), abs=1e-5)  # seen from above: F0 = 0.08 x 0.5
    assert maps[0, 0] > 0.7 * HORIZON[0]  # at grazing angles a dielectric is nearly a mirror


def test_the_sun_highlight_sits_at_the_mirror_angle_and_spreads_with_roughness():
    sharp, elevation = _floor(roughness=0.15)
    rough, _ = _floor(roughness=0.6)
    at = {angle: int((elevation - angle).abs().argmin()) for angle in (30, 45)}
    assert elevation[sharp[:, 3].argmax()] == pytest.approx(30.0, abs=0.5)
    assert rough[at[30], 3] < 0.2 * sharp[at[30], 3]
    # 15° off the mirror angle a polished floor's highlight is gone, a rough one's still a third.
    assert sharp[at[45], 3] < 0.05 * sharp[at[30], 3] and rough[at[45], 3] > 0.3 * rough[at[30], 3]


def test_a_larger_sun_widens_a_highlight_and_keeps_its_energy():
    """Karis's widening spreads a small light's highlight without creating or losing light: the
    reflected irradiance stays that of a 4 W/m² sun times the Fresnel term (a few %)."""
    small, _ = _floor(roughness=0.1, sun_angle=0.5)
    large, _ = _floor(roughness=0.1, sun_angle=8.0)
    assert large[:, 3].max() < 0.5 * small[:, 3].max()
    kept = _reflected_irradiance(0.1, 0.5), _reflected_irradiance(0.1, 8.0)
    assert kept[1] == pytest.approx(kept[0], rel=0.15)
    assert 0.02 * 4 < kept[0] < 0.15 * 4


def test_no_sun_highlight_in_shadow_and_nothing_on_empty_pixels():
    shadowed, _ = _floor(roughness=0.15, visible=0.0)
    lit, _ = _floor(roughness=0.15)
    assert shadowed[:, 3].abs().max() == 0 and lit[:, 3].max() > 1
    assert torch.equal(shadowed[:, :3], lit[:, :3])  # the sky is not the sun: shadow leaves it alone
    normals = torch.zeros(1, 1, 2, 2, 3)
    empty = reflection_maps(normals, normals, torch.zeros(1, 1, 2, 2, 3), torch.rand(1, 10), torch.rand(1, 9),
                            torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2, 3))
    assert empty.abs().max() == 0


def test_a_metal_reflects_everything_and_a_rough_surface_reflects_the_hemisphere():
    metal, _ = _floor(roughness=0.0, metallic=1.0)
    assert torch.allclose(metal[-1, :3], ZENITH, atol=1e-5)
    matte, _ = _floor(roughness=1.0, metallic=1.0)
    assert torch.allclose(matte[:, :3], torch.full_like(matte[:, :3], 0.5), atol=1e-5)  # the ambient given
