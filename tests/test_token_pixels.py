"""Token outputs to pixels: bilinear features between token centres, and tents without seams."""

from __future__ import annotations

import torch

from worldsim.token_pixels import blend_tents, token_maps


def test_token_features_interpolate_between_token_centres():
    """Each token's features sit at its patch's centre and are bilinear in between: a feature equal to
    the token's row reads (y + 0.5) / patch − 0.5 at pixel row y (clamped at the borders), the same
    in every column, with no step at patch borders."""
    rows, cols, patch = 4, 3, 8
    row_index = torch.arange(rows, dtype=torch.float32)[:, None].expand(rows, cols).reshape(1, rows * cols, 1)
    maps = token_maps(row_index, rows, cols, patch, height=30, width=20, frames=1)
    assert maps.shape == (1, 1, 30, 20, 1)
    y = torch.arange(30, dtype=torch.float32)
    expected = ((y + 0.5) / patch - 0.5).clamp(0, rows - 1)
    assert torch.allclose(maps[0, 0, :, :, 0], expected[:, None].expand(30, 20), atol=1e-5)


def test_tent_blended_tokens_are_continuous_and_constant_tokens_interpolate_bilinearly():
    """A tent head's per-token outputs blend into their neighbours: outputs constant within each
    token give exactly the bilinear map between token centres (no step at any patch border), and a
    constant everywhere stays that constant up to the image border."""
    rows, cols, patch, channels = 4, 3, 8, 2
    values = torch.randn(1, rows * cols, channels)
    per_token = values[:, :, None, :].expand(1, rows * cols, (2 * patch) ** 2, channels).flatten(2)
    blended = blend_tents(per_token, rows, cols, patch, frames=1)
    assert blended.shape == (1, 1, rows * patch, cols * patch, channels)
    expected = token_maps(values, rows, cols, patch, rows * patch, cols * patch, frames=1)
    assert torch.allclose(blended, expected, atol=1e-5)
    # a patch head would step by the whole difference of two tokens at their border; a tent, by 1/p of it
    assert blended.diff(dim=2).abs().amax() <= (values.amax() - values.amin()) / patch + 1e-5
    ones = blend_tents(torch.ones(2, rows * cols, (2 * patch) ** 2), rows, cols, patch, frames=2)
    assert torch.allclose(ones, torch.ones_like(ones))
