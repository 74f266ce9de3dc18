"""Starting a model from a narrower checkpoint: exactly its source at first, then learning the rest."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from worldsim.conditioning.tensors import PBR_CHANNELS
from worldsim.model import DiTConfig, build_model
from worldsim.widen import widen_from

from .test_model import _cond, _shading_cond, _trained_looking


def test_widened_cycles_model_starts_as_exactly_its_source():
    """--init raster --look cycles: the new inputs get zero weights, so before fine-tuning the widened
    model renders exactly what the source renders, whatever the new inputs say."""
    source = _trained_looking(build_model("tiny"))
    wide = build_model("tiny", pbr=True, resolution=64)
    widen_from(wide, source.state_dict(), source.config)
    cond = _cond(pbr=True)
    x, t = torch.randn(2, 2, 3, 32, 32), torch.rand(2)
    with torch.no_grad():
        assert torch.allclose(wide(x, t, cond), source(x, t, cond), atol=1e-5)
    with pytest.raises(ValueError, match="same architecture"):
        widen_from(build_model("tiny", pbr=True), build_model("small").state_dict(), build_model("small").config)


@pytest.mark.parametrize("known", [6, 12, 14, 18])
def test_a_cycles_model_with_fewer_pbr_channels_widens_exactly_and_ignores_the_rest(known):
    """A checkpoint trained before the environment maps (6 pbr channels), the glare maps (12), the
    sun and sky reflections (14) or the screen-space mirror (18) reads only its own channels; widened
    to 22, it starts out rendering exactly what it rendered."""
    narrow = _trained_looking(build_model("tiny", pbr=True, pbr_channels=known))
    wide = build_model("tiny", pbr=True)
    assert wide.config.pbr_channels == PBR_CHANNELS == 22
    widen_from(wide, narrow.state_dict(), narrow.config)
    cond, x, t = _cond(pbr=True), torch.randn(2, 2, 3, 32, 32), torch.rand(2)
    changed = dataclasses.replace(cond, pbr=torch.cat([cond.pbr[:, :, :known], torch.rand_like(cond.pbr[:, :, known:])],
                                                      dim=2))
    with torch.no_grad():
        assert torch.equal(narrow(x, t, cond), narrow(x, t, changed))  # the later channels are not its inputs
        assert torch.allclose(wide(x, t, cond), narrow(x, t, cond), atol=1e-5)


def test_a_model_without_token_features_widens_exactly_and_then_learns_from_them():
    """A checkpoint from before token features starts out rendering exactly what it rendered; the
    new features reach the output through weights that get gradient."""
    old = _trained_looking(build_model("tiny", pbr=True, token_features=0))
    new = build_model("tiny", pbr=True, token_features=4)
    widen_from(new, old.state_dict(), old.config)
    cond, x, t = _cond(pbr=True), torch.randn(2, 2, 3, 32, 32), torch.rand(2)
    with torch.no_grad():
        assert torch.allclose(new(x, t, cond), old(x, t, cond), atol=1e-5)
    new(x, t, cond).square().mean().backward()
    first = new.pixel_head[0].weight.grad
    assert first[:, -new.config.token_features:].abs().sum() > 0
    with pytest.raises(ValueError, match="token features"):
        source = build_model("tiny", token_features=4)
        widen_from(build_model("tiny", token_features=2), source.state_dict(), source.config)


def test_an_rgb_checkpoint_starts_a_shading_model_with_its_trunk_and_fresh_output_layers():
    old = _trained_looking(build_model("tiny", pbr=True))
    new = build_model("tiny", pbr=True, output="shading")
    widen_from(new, old.state_dict(), old.config)
    for name, value in new.state_dict().items():
        if name.startswith(("final.linear", "pixel_head.4")):
            assert value.shape[0] != old.state_dict()[name].shape[0] or not torch.equal(value, old.state_dict()[name])
        else:
            assert torch.equal(value, old.state_dict()[name]), name
    cond, fg = _shading_cond()
    with torch.no_grad():  # the fresh output layers: still the albedo, whatever the trunk computes
        out = new(torch.randn(1, 2, 3, 32, 32), torch.rand(1), cond)
    assert torch.allclose(out[..., fg], cond.maps[:, :, 0:3][..., fg], atol=1e-4)


def test_a_patch_head_widens_to_a_tent_head_and_renders_any_size():
    """The tent head starts from a patch head's weights, each token's patch in the middle of its 2p×2p
    extended by its edge pixels; the model then renders any size, and a tent head cannot shrink back."""
    old = _trained_looking(build_model("tiny", pbr=True, output="shading"))
    new = build_model("tiny", pbr=True, output="shading", head_blend="tent")
    widen_from(new, old.state_dict(), old.config)
    p, c = old.config.patch, old.config.out_channels
    source = old.final.linear.weight.reshape(p, p, c, -1)
    widened = new.final.linear.weight.reshape(2 * p, 2 * p, c, -1)
    assert torch.equal(widened[p // 2:p // 2 + p, p // 2:p // 2 + p], source)  # its own patch, unchanged
    assert torch.equal(widened[0, 0], source[0, 0]) and torch.equal(widened[-1, 3], source[-1, 0])
    for name, value in new.state_dict().items():
        if not name.startswith("final.linear"):
            assert torch.equal(value, old.state_dict()[name]), name
    for h, w in ((32, 32), (37, 29)):
        with torch.no_grad():
            out = new(torch.randn(1, 2, 3, h, w), torch.rand(1), _cond(1, 2, h, w, pbr=True))
        assert out.shape == (1, 2, 3, h, w) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="final.linear"):
        widen_from(build_model("tiny", pbr=True, output="shading"), new.state_dict(), new.config)
    with pytest.raises(ValueError, match="even patch"):
        DiTConfig(head_blend="tent", patch=7)
    with pytest.raises(ValueError, match="unknown head_blend"):
        DiTConfig(head_blend="gauss")


def test_a_deeper_model_starts_as_exactly_its_source_and_its_new_blocks_learn():
    """--depth with --init: the source's blocks come first and each new block starts with closed
    gates, so the deeper model renders exactly what the source rendered; the gates get gradient."""
    old = _trained_looking(build_model("tiny", pbr=True, output="shading", head_blend="tent"))
    deep = build_model("tiny", pbr=True, output="shading", head_blend="tent", depth=old.config.depth + 2)
    widen_from(deep, old.state_dict(), old.config)
    for name, value in old.state_dict().items():
        assert torch.equal(deep.state_dict()[name], value), name
    cond, x, t = _cond(pbr=True), torch.randn(2, 2, 3, 32, 32), torch.rand(2)
    with torch.no_grad():
        assert torch.allclose(deep(x, t, cond), old(x, t, cond), atol=1e-5)
    deep(x, t, cond).square().mean().backward()
    assert deep.blocks[-1].ada[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="cannot drop blocks"):
        widen_from(old, deep.state_dict(), deep.config)


def test_frame_summaries_widen_exactly_and_learn_and_are_not_dropped():
    """--frame-summary with --init: the summary maps start at zero, so the model renders exactly
    what its source rendered, and they get gradient (they are the fresh parameters)."""
    old = _trained_looking(build_model("tiny", pbr=True, output="shading", head_blend="tent", depth=3))
    new = build_model("tiny", pbr=True, output="shading", head_blend="tent", depth=3, frame_summary=True)
    fresh = widen_from(new, old.state_dict(), old.config)
    assert fresh == {n for n, _ in new.named_parameters() if "summar" in n} and len(fresh) == 6  # 2 blocks + final
    cond, x, t = _cond(pbr=True), torch.randn(2, 2, 3, 32, 32), torch.rand(2)
    with torch.no_grad():
        assert torch.equal(new(x, t, cond), old(x, t, cond))
    new(x, t, cond).square().mean().backward()
    assert all(s.weight.grad.abs().sum() > 0 for s in [*new.summaries, new.final_summary])
    with pytest.raises(ValueError, match="frame summaries"):
        widen_from(old, new.state_dict(), new.config)
    new = _trained_looking(new)  # every summary open: a deeper model keeps them, its new block's start closed
    deep = build_model("tiny", pbr=True, output="shading", head_blend="tent", depth=5, frame_summary=True)
    assert widen_from(deep, new.state_dict(), new.config) == {n for n, _ in deep.named_parameters()
                                                              if n.startswith(("blocks.3.", "blocks.4.", "summaries.2.",
                                                                               "summaries.3."))}
    with torch.no_grad():
        assert torch.allclose(deep(x, t, cond), new(x, t, cond), atol=1e-5)


def test_widen_names_the_parameters_it_left_fresh():
    """What ``train --new-lr`` speeds up: a deeper model's new blocks; nothing for the same model;
    a new output's two output layers (not the zero-padded inputs, which hold the source's weights)."""
    old = build_model("tiny", pbr=True, output="shading", head_blend="tent")
    deep = build_model("tiny", pbr=True, output="shading", head_blend="tent", depth=old.config.depth + 1)
    new_block = {n for n, _ in deep.named_parameters() if n.startswith(f"blocks.{old.config.depth}.")}
    assert new_block and widen_from(deep, old.state_dict(), old.config) == new_block
    assert widen_from(build_model("tiny"), build_model("tiny").state_dict(), build_model("tiny").config) == set()
    rgb = build_model("tiny")
    fresh = widen_from(build_model("tiny", pbr=True, output="shading"), rgb.state_dict(), rgb.config)
    assert fresh and all(n.startswith(("final.linear.", "pixel_head.")) for n in fresh) and "patch_embed.weight" not in fresh
