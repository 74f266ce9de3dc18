"""The network and the flow objective, tested apart: shapes, zero-init, an oracle sampler."""

from __future__ import annotations

import pytest
import torch

from worldsim import flow
from worldsim.conditioning import COND_CHANNELS, GLOBAL_DIM, Conditions
from worldsim.model import build_model


def _cond(b=2, t=2, h=32, k=16):
    return Conditions(maps=torch.randn(b, t, COND_CHANNELS, h, h), material=torch.randint(0, 5, (b, t, h, h)),
                      segmentation=torch.randint(-1, 3, (b, t, h, h)), obj_color=torch.rand(b, k, 4),
                      obj_material=torch.randint(0, 5, (b, k)), global_=torch.randn(b, GLOBAL_DIM))


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


def test_refuses_wrong_resolution():
    with pytest.raises(ValueError, match="32x32"):
        build_model("tiny")(torch.randn(1, 2, 3, 16, 16), torch.rand(1), _cond(1, 2, 16))


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


def test_loss_is_zero_for_an_exact_model_and_positive_for_a_wrong_one():
    data = torch.rand(4, 2, 3, 8, 8) * 2 - 1
    gen = torch.Generator().manual_seed(0)

    class Exact(torch.nn.Module):
        def forward(self, x, t, cond):
            return data

    # Exact up to the clamp of 1 − t (times above 0.95 are weighted less); the grid and uniform
    # draws of this seed stay below it.
    times = flow.sample_times(4, torch.Generator().manual_seed(0))
    assert (times < 0.95).all()
    assert flow.loss(Exact(), data, None, generator=gen) < 1e-10
    assert flow.loss(lambda x, t, c: torch.zeros_like(x), data, None) > 0.5


def test_same_seed_same_sample():
    model = build_model("tiny").eval()
    cond = _cond()
    a = flow.sample(model, torch.randn(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(3)), cond, 2)
    b = flow.sample(model, torch.randn(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(3)), cond, 2)
    assert torch.equal(a, b)


def test_widened_cycles_model_starts_as_exactly_its_source():
    """--init default --look cycles: the new inputs get zero weights, so before fine-tuning the widened
    model renders exactly what the source renders, whatever the new inputs say."""
    from worldsim.conditioning import ENV_DIM, PBR_CHANNELS
    from worldsim.model import widen_from

    torch.manual_seed(0)
    source = build_model("tiny")
    for p in source.parameters():  # a trained-looking source: no zero-initialised branches left
        torch.nn.init.normal_(p, std=0.05)
    wide = build_model("tiny", pbr=True)
    widen_from(wide, source.state_dict(), source.config)
    cond = _cond()
    cond.pbr = torch.rand(2, 2, PBR_CHANNELS, 32, 32)
    cond.environment = torch.rand(2, ENV_DIM)
    x, t = torch.randn(2, 2, 3, 32, 32), torch.rand(2)
    with torch.no_grad():
        assert torch.allclose(wide(x, t, cond), source(x, t, cond), atol=1e-5)
        cond.pbr = cond.pbr * 3  # and it learns to use them: the new weights get gradients
    loss = wide(x, t, cond).square().mean()
    loss.backward()
    assert wide.patch_embed.weight.grad.reshape(wide.config.dim, -1, wide.config.in_channels)[..., -PBR_CHANNELS:].abs().sum() > 0


def test_cycles_model_refuses_missing_pbr_conditions_and_other_architectures():
    from worldsim.model import widen_from

    with pytest.raises(ValueError, match="pbr conditions"):
        build_model("tiny", pbr=True)(torch.randn(2, 2, 3, 32, 32), torch.rand(2), _cond())
    with pytest.raises(ValueError, match="same architecture"):
        widen_from(build_model("tiny", pbr=True), build_model("small").state_dict(), build_model("small").config)
