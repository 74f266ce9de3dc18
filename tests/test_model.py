"""The network and the flow objective, tested apart: shapes, zero-init, an oracle sampler."""

from __future__ import annotations

import pytest
import torch

from worldsim import flow
from worldsim.conditioning.tensors import COND_CHANNELS, ENV_DIM, GLOBAL_DIM, PBR_CHANNELS, Conditions
from worldsim.model import DiTConfig, build_model


def _cond(b=2, t=2, h=32, w=None, pbr=False):
    w = w or h
    return Conditions(maps=torch.randn(b, t, COND_CHANNELS, h, w), material=torch.randint(0, 5, (b, t, h, w)),
                      global_=torch.randn(b, GLOBAL_DIM), pbr=torch.rand(b, t, PBR_CHANNELS, h, w) if pbr else None,
                      environment=torch.rand(b, ENV_DIM) if pbr else None)


def _trained_looking(model):
    torch.manual_seed(0)
    for p in model.parameters():  # no zero-initialised branches left
        torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def test_shapes_and_adaln_zero_init():
    model = build_model("tiny")
    x = torch.randn(2, 2, 3, 32, 32)
    out = model(x, torch.rand(2), _cond())
    assert out.shape == x.shape
    # adaLN-Zero: the transformer branch starts as exactly zero; only the pixel head speaks at init.
    with torch.no_grad():
        model.pixel_head[-1].weight.zero_()
        model.pixel_head[-1].bias.zero_()
    assert torch.count_nonzero(model(x, torch.rand(2), _cond())) == 0


@pytest.mark.parametrize("size", [(32, 32), (48, 80), (37, 29)])
def test_one_model_renders_any_size(size):
    """Sizes other than the training crop, non-square, and not multiples of the patch or the window."""
    model = _trained_looking(build_model("tiny", pbr=True))
    h, w = size
    x = torch.randn(1, 2, 3, h, w)
    with torch.no_grad():
        out = model(x, torch.rand(1), _cond(1, 2, h, w, pbr=True))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_no_weight_depends_on_the_resolution_or_the_number_of_bodies():
    small, large = build_model("tiny", resolution=32), build_model("tiny", resolution=512)
    assert {k: v.shape for k, v in small.state_dict().items()} == {k: v.shape for k, v in large.state_dict().items()}


def test_window_attention_sees_across_windows_through_shifted_blocks():
    """A change in one window reaches its diagonal neighbour (windows of 2x2 patches of 8 px) only
    because shifted blocks straddle window borders; the far corner stays untouched (attention is local)."""
    model = _trained_looking(build_model("tiny", depth=4))
    x, cond, t = torch.zeros(1, 2, 3, 64, 64), _cond(1, 2, 64), torch.full((1,), 0.5)
    with torch.no_grad():
        a = model(x, t, cond)
        x[..., :8, :8] = 1.0
        b = model(x, t, cond)
    assert (a - b)[..., 16:24, 16:24].abs().max() > 0
    assert (a - b)[..., 56:, 56:].abs().max() == 0


def test_a_frame_summary_carries_a_change_to_the_far_corner_and_starts_closed():
    """With ``frame_summary`` every token hears the mean of the whole frame, so the corner that local
    attention never reaches (the test above) changes too; a fresh model's summaries are zero, so it
    renders exactly what the same weights render without them."""
    model = _trained_looking(build_model("tiny", depth=4, frame_summary=True))
    x, cond, t = torch.zeros(1, 2, 3, 64, 64), _cond(1, 2, 64), torch.full((1,), 0.5)
    with torch.no_grad():
        a = model(x, t, cond)
        x[..., :8, :8] = 1.0
        b = model(x, t, cond)
        assert (a - b)[..., 56:, 56:].abs().min() > 0
        plain = build_model("tiny", depth=4)
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if "summar" not in k})
        for summary in [*model.summaries, model.final_summary]:
            summary.weight.zero_()
            summary.bias.zero_()
        assert torch.equal(model(x, t, cond), plain(x, t, cond))


def test_the_json_config_alone_rebuilds_the_model_and_old_configs_are_refused():
    model = build_model("tiny", pbr=True)
    again = type(model)(DiTConfig.from_dict(model.config_dict()))
    again.load_state_dict(model.state_dict())
    with pytest.raises(ValueError, match="token_dim"):
        DiTConfig.from_dict({**model.config_dict(), "token_dim": 16})


class Oracle(torch.nn.Module):
    """Knows the data: predicts the clean frames exactly, whatever the input."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def forward(self, x, t, cond):
        return self.data


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_sampler_reaches_data_with_an_exact_velocity(steps):
    data = torch.rand(2, 2, 3, 8, 8) * 2 - 1
    out = flow.sample(Oracle(data), torch.randn_like(data), None, steps=steps)
    assert torch.allclose(out, data, atol=1e-5)


@pytest.mark.parametrize("weighting", ["clean", "velocity"])
def test_loss_is_zero_for_an_exact_model_and_positive_for_a_wrong_one(weighting):
    data = torch.rand(4, 2, 3, 8, 8) * 2 - 1
    gen = torch.Generator().manual_seed(0)

    class Exact(torch.nn.Module):
        def forward(self, x, t, cond):
            return data

    # Exact up to the clamp of 1 − t (times above 0.95 are weighted less); the grid and uniform
    # draws of this seed stay below it.
    times = flow.sample_times(4, torch.Generator().manual_seed(0))
    assert (times < 0.95).all()
    assert flow.loss(Exact(), data, None, generator=gen, weighting=weighting) < 1e-10
    assert flow.loss(lambda x, t, c: torch.zeros_like(x), data, None, weighting=weighting) > 0.2


def test_same_seed_same_sample():
    model = build_model("tiny").eval()
    cond = _cond()
    a = flow.sample(model, torch.randn(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(3)), cond, 2)
    b = flow.sample(model, torch.randn(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(3)), cond, 2)
    assert torch.equal(a, b)


def test_cycles_model_refuses_missing_pbr_conditions():
    with pytest.raises(ValueError, match="pbr conditions"):
        build_model("tiny", pbr=True)(torch.randn(2, 2, 3, 32, 32), torch.rand(2), _cond())


@pytest.mark.parametrize("chunk", [None, 100, 4096])
def test_pixel_head_equals_the_head_on_inputs_and_global_concatenated(chunk):
    """The folded, chunked head (the global share as a per-clip bias; CPU chunks, one with a ragged
    tail) computes exactly the plain head on every pixel's inputs, the global vector and the token
    features concatenated."""
    from worldsim.model import pixel_mlp

    model = _trained_looking(build_model("tiny", token_features=4))
    head, k = model.pixel_head, model.config.token_features
    pixels, features = torch.randn(3, 2, 9, 13, 30), torch.randn(3, 2, 9, 13, k)
    glob = torch.randn(3, head[0].in_features - 30 - k)
    plain = head(torch.cat([pixels, glob[:, None, None, None].expand(3, 2, 9, 13, -1), features], dim=-1))
    with torch.no_grad():
        assert torch.allclose(pixel_mlp(head, pixels, glob, chunk, features), plain, atol=1e-5)


def test_clean_weighting_is_the_velocity_loss_times_one_minus_t_squared():
    """Per sample, the clean-frame error is the velocity error times (1 − t)²; both are zero for an
    exact model, and an unknown weighting is refused."""
    model = _trained_looking(build_model("tiny"))
    data, noise, cond = torch.randn(1, 2, 3, 32, 32), torch.randn(1, 2, 3, 32, 32), _cond(b=1)
    with torch.no_grad():
        for time in (0.0, 0.5, 0.75):
            t = torch.tensor([time])
            v = flow.loss(model, data, cond, noise=noise, t=t, weighting="velocity")
            x = flow.loss(model, data, cond, noise=noise, t=t, weighting="clean")
            assert torch.allclose(x, v * (1 - time) ** 2, rtol=1e-4)
        exact = lambda x_t, t, cond: data  # noqa: E731
        assert flow.loss(exact, data, cond, noise=noise, t=torch.tensor([0.3]), weighting="clean") == 0
    with pytest.raises(ValueError, match="weighting"):
        flow.loss(model, data, cond, weighting="pixels")


def test_clipped_loss_meets_predictions_beyond_a_clipped_target_and_keeps_the_rest():
    """At a target of 1 (255) a prediction above 1 costs nothing, as the shown frame is clamped; one
    short of it costs its plain error, with a gradient. Targets inside the range keep the plain loss."""
    data = torch.tensor([1.0, 1.0, 0.5, -1.0, -1.0]).view(1, 1, 5, 1, 1)
    guess = torch.tensor([1.5, 0.5, 1.5, -1.4, -0.6]).view(1, 1, 5, 1, 1).requires_grad_()
    t = torch.zeros(1)
    clipped = flow.loss(lambda x, t, c: guess, data, None, noise=torch.zeros_like(data), t=t, clipped=True)
    assert torch.isclose(clipped, torch.tensor((0 + 0.25 + 1.0 + 0 + 0.16) / 5))
    clipped.backward()
    assert guess.grad.flatten()[[0, 3]].eq(0).all() and guess.grad.flatten()[[1, 2, 4]].ne(0).all()
    plain = flow.loss(lambda x, t, c: guess, data, None, noise=torch.zeros_like(data), t=t)
    assert torch.isclose(plain, torch.tensor((0.25 + 0.25 + 1.0 + 0.16 + 0.16) / 5))
    with pytest.raises(ValueError, match="clean weighting"):
        flow.loss(lambda x, t, c: guess, data, None, weighting="velocity", clipped=True)


def test_periodic_error_is_the_patch_ripple_metric_before_its_rms():
    """The training-side grid error and ``metrics.patch_ripple`` take the same sum: on one window of
    random error (sides that are not whole patches, so the border and the cut matter), the tensor's
    RMS in 8-bit levels is the metric's value."""
    import numpy as np

    from worldsim.metrics import patch_ripple

    error = np.random.default_rng(0).normal(0, 9, (3, 36, 44, 3)).astype(np.float32)  # (T, H, W, C) in levels
    error += 2 * np.cos(2 * np.pi * (np.arange(44) + 0.5) / 8)[None, None, :, None]  # and a grid to find
    periodic = flow.periodic_error(torch.from_numpy(error / 127.5).permute(0, 3, 1, 2)[None], 8)
    assert periodic.shape == (1, 3, 8, 8)
    rms = float(periodic.square().mean().sqrt()) * 127.5
    assert rms == pytest.approx(patch_ripple(error, np.zeros_like(error)), rel=1e-4)
    assert rms > 1.0  # the grid (RMS 1.41) shows through the per-pixel error


def test_the_ripple_weight_reads_the_grid_pitch_from_the_model():
    """A model's own patch is the grid; a bare callable has none and must name it."""
    model = build_model("tiny")
    data, cond = torch.rand(1, model.config.frames, 3, 32, 32) * 2 - 1, _cond(1, model.config.frames, 32)
    zero, t = torch.zeros_like(data), torch.zeros(1)
    own = flow.loss(model, data, cond, noise=zero, t=t, ripple=5.0)
    assert own == flow.loss(model, data, cond, noise=zero, t=t, ripple=5.0, patch=model.config.patch)
    assert own != flow.loss(model, data, cond, noise=zero, t=t, ripple=5.0, patch=4)
    with pytest.raises(ValueError, match="patch"):
        flow.loss(lambda x, t, c: data, data, None, ripple=1.0)


@pytest.mark.parametrize("size", [7, 8])
def test_box_blur_is_scipys_uniform_filter_with_nearest_borders(size):
    """The running-sum blur under the grid error (and so under ``patch_ripple``) takes scipy's window
    and border, odd and even sizes, on sides that are not multiples of it."""
    import numpy as np
    from scipy.ndimage import uniform_filter

    x = np.random.default_rng(1).normal(size=(2, 3, 37, 45)).astype(np.float32)
    want = uniform_filter(x, size=(1, 1, size, size), mode="nearest")
    assert np.abs(flow.box_blur(torch.from_numpy(x), size).numpy() - want).max() < 1e-5


def test_the_ripple_weight_charges_a_grid_and_little_else():
    """A prediction off by a faint 8-pixel grid costs about ``1 + ripple`` times its square with the
    weight (the box blur removes none of a pure grid away from the border). One off by eight times
    stronger per-pixel noise pays only the noise floor on top of its MSE: ``ripple`` times its
    variance over the window's patch count, a quarter of the grid's charge here. The weight needs
    the clean weighting."""
    data = torch.rand(1, 8, 3, 64, 64) * 2 - 1
    x = torch.arange(64) + 0.5
    grid = 0.02 * (torch.cos(2 * torch.pi * x / 8)[None, :] + torch.cos(2 * torch.pi * x / 8)[:, None])
    noise = 0.16 * torch.randn(data.shape, generator=torch.Generator().manual_seed(1))
    zero, t = torch.zeros_like(data), torch.zeros(1)

    def cost(error, ripple):
        return float(flow.loss(lambda x, t, c: data + error, data, None, noise=zero, t=t, ripple=ripple, patch=8))

    plain = cost(grid, 0.0)
    assert plain == pytest.approx(float(grid.square().mean()), rel=1e-5)
    # within the box's reach of the replicated border the blur keeps part of the grid: 4 % short here
    charge = cost(grid, 10.0) - plain
    assert charge == pytest.approx(10 * plain, rel=0.1)
    floor = cost(noise, 10.0) - cost(noise, 0.0)
    assert floor == pytest.approx(10 * 0.16**2 / (8 * 8 * 8), rel=0.3)  # 8 frames of 8 × 8 patches
    assert floor < charge / 3
    with pytest.raises(ValueError, match="clean weighting"):
        flow.loss(lambda x, t, c: data, data, None, weighting="velocity", ripple=1.0)


def _shading_cond(h=32, w=32):
    """Conditions with a foreground disc of random texture on an empty background."""
    cond = _cond(1, 2, h, w, pbr=True)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    fg = (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (h / 3) ** 2).float()
    cond.maps[:, :, 13] = fg
    cond.maps[:, :, 0:3] = torch.rand(1, 2, 3, h, w) * 2 - 1
    cond.pbr[:, :, 6:9] = torch.rand(1, 2, 3, h, w) * (1 - fg)  # the world's colour, only where empty
    return cond, fg.bool()


def test_a_fresh_shading_model_draws_the_albedo_on_bodies_and_the_world_around_them():
    """Before any training, a colour or texture the model never saw reaches the frame exactly."""
    model = build_model("tiny", pbr=True, output="shading")
    cond, fg = _shading_cond(h=37, w=29)
    with torch.no_grad():
        out = model(torch.randn(1, 2, 3, 37, 29), torch.rand(1), cond)
    albedo, background = cond.maps[:, :, 0:3], cond.pbr[:, :, 6:9] * 2 - 1
    assert torch.allclose(out[..., fg], albedo[..., fg], atol=1e-4)
    assert torch.allclose(out[..., ~fg], background[..., ~fg], atol=1e-4)


def test_shading_gain_and_offset_act_in_linear_light():
    """Gain 2 on an albedo of linear 0.2 draws linear 0.4; an offset adds in linear light."""
    from worldsim.conditioning.tensors import srgb_decode, srgb_encode

    model = build_model("tiny", pbr=True, output="shading")
    cond, fg = _shading_cond()
    cond.maps[:, :, 0:3] = srgb_encode(torch.tensor(0.2)) * 2 - 1
    raw = torch.zeros(1, 2, 32, 32, 6)
    raw[..., :3] = torch.log(torch.expm1(torch.tensor(2.0))) - torch.log(torch.expm1(torch.tensor(1.0)))  # gain 2
    raw[..., 3:] = 0.05
    out = model._shade(raw, cond).permute(0, 1, 4, 2, 3)
    linear = srgb_decode((out + 1) / 2)
    assert torch.allclose(linear[..., fg], torch.tensor(0.45), atol=1e-4)
    cond.pbr[:, :, 6:9] *= 0.9  # so the sum stays below white, where the curve is invertible
    linear = srgb_decode((model._shade(raw, cond).permute(0, 1, 4, 2, 3) + 1) / 2)
    empty = srgb_decode(cond.pbr[:, :, 6:9]) + 0.05
    assert torch.allclose(linear[..., ~fg], empty[..., ~fg], atol=1e-4)


def test_the_unclipped_srgb_curve_matches_inside_and_keeps_a_gradient_outside():
    from worldsim.conditioning.tensors import srgb_decode, srgb_encode, srgb_encode_unclipped

    inside = torch.linspace(0, 1, 101)
    assert torch.allclose(srgb_encode_unclipped(inside), srgb_encode(inside), atol=1e-6)
    assert torch.allclose(srgb_decode(srgb_encode(inside)), inside, atol=1e-5)
    outside = torch.tensor([-0.5, -0.01, 1.01, 3.0], requires_grad=True)
    srgb_encode_unclipped(outside).sum().backward()
    assert (outside.grad > 0.4).all()  # clamping would give 0 here: an overshoot could never come back
    assert (srgb_encode_unclipped(torch.tensor([1.5, 3.0])) > 1).all()


def test_shading_needs_the_maps_and_x_prediction_and_unknown_outputs_are_refused():
    with pytest.raises(ValueError, match="physics maps"):
        DiTConfig(output="shading", use_physics=False)
    with pytest.raises(ValueError, match="x-prediction"):
        DiTConfig(output="shading", prediction="v")
    with pytest.raises(ValueError, match="unknown output"):
        DiTConfig(output="albedo")


