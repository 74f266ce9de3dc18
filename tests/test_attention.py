"""Resolution-free attention: rotary positions and (shifted) window layouts, against their definitions."""

from __future__ import annotations

import pytest
import torch

from worldsim.attention import WindowAttention, apply_rope, rope_2d, rope_tables, window_layout


@pytest.mark.parametrize("rows, cols, shift", [(8, 8, True), (8, 8, False), (5, 11, True), (13, 6, False), (3, 3, True)])
def test_window_attention_is_plain_attention_within_each_window_group(rows, cols, shift):
    """However the grid is padded and rolled into windows, token (r, c) attends to exactly the tokens
    of its group ((r + s) // window, (c + s) // window), s half a window when shifted."""
    torch.manual_seed(0)
    window, heads, dim, n = 4, 2, 16, rows * cols
    layer = WindowAttention(dim, heads, shift)
    rope = rope_tables(*rope_2d(dim // heads, rows, cols))
    x = torch.randn(2, n, dim)
    s = window // 2 if shift else 0
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    group = (((r + s) // window) * 1000 + (c + s) // window).reshape(-1)
    with torch.no_grad():
        out = layer(x, window_layout(rows, cols, window, shift, rope))
        q, k, v = layer.qkv(x).reshape(2, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        cos, sin = (table.reshape(n, -1) for table in rope)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        ref = torch.empty_like(q)
        for g in group.unique():
            m = group == g
            scores = q[:, :, m] @ k[:, :, m].transpose(-1, -2) * (dim // heads) ** -0.5
            ref[:, :, m] = torch.softmax(scores, dim=-1) @ v[:, :, m]
        ref = layer.proj(ref.transpose(1, 2).reshape(2, n, dim))
    assert torch.allclose(out, ref, atol=1e-5)


def test_a_shifted_layout_keeps_the_unshifted_count_of_windows():
    """Rolled, not padded before: a 64² frame (8 x 8 tokens) is one window of 64 slots either way."""
    rope = rope_tables(*rope_2d(8, 8, 8))
    plain, shifted = window_layout(8, 8, 8, False, rope), window_layout(8, 8, 8, True, rope)
    assert plain.mask is None and plain.slots is None
    assert shifted.mask.shape == (1, 1, 64, 64) and shifted.cos.shape == (1, 1, 64, 8)
    assert int((shifted.mask == 0).sum()) == 4 * 16 * 16  # four groups of 16 tokens see only themselves


def test_rotary_scores_depend_only_on_the_offset():
    cos, sin = rope_tables(*rope_2d(16, 12, 12))
    q, k = torch.randn(16), torch.randn(16)

    def score(pq, pk):
        return (apply_rope(q, cos[pq], sin[pq]) * apply_rope(k, cos[pk], sin[pk])).sum()

    assert torch.allclose(score((1, 2), (4, 7)), score((6, 5), (9, 10)), atol=1e-5)
    assert not torch.allclose(score((1, 2), (4, 7)), score((1, 2), (4, 8)), atol=1e-3)


def test_rope_turns_each_pair_by_its_angle():
    half_cos, half_sin = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0])  # pair 0 by 90°, pair 1 by 0°
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert torch.equal(apply_rope(x, *rope_tables(half_cos, half_sin)), torch.tensor([-2.0, 1.0, 3.0, 4.0]))
