"""Counted FLOPs of a WorldDiT pass, for model FLOPs utilisation (MFU).

Counted as the MFU literature counts them (PaLM, appendix B): 2 FLOPs per multiply-add of every
matrix product (linear layers, attention scores and their weighted sums), nothing for normalisation,
activations, rotary positions or gathers. Queries, keys and values are counted for the real tokens,
attention over the whole windows the model really computes (the grid padded to whole windows; a
shifted layout is rolled, so it has as many windows as an unshifted one). A training step is 3×
the forward pass (the backward pass costs two forwards).
``tests/test_flops.py`` checks the count against torch's own ``FlopCounterMode``.
"""

from __future__ import annotations

import math

# Dense peak TFLOP/s from the vendors' datasheets (SXM parts, no sparsity), per autocast dtype:
# what MFU is measured against. fp32 means plain fp32 math (TF32 off).
PEAK_TFLOPS = {
    "H100": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
    "H200": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5},
    "L4": {"bf16": 121.0, "fp16": 121.0, "fp32": 30.3},
}


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """The datasheet peak of a GPU named like ``"NVIDIA H100 80GB HBM3"``, or None if unknown (CPUs)."""
    for key, peaks in PEAK_TFLOPS.items():
        if key in device_name.upper():
            return peaks.get(dtype)
    return None


def forward_flops(config, height: int, width: int, batch: int = 1, frames: int | None = None) -> int:
    """Matrix-product FLOPs of one forward pass of a WorldDiT with ``config`` (a ``DiTConfig``) on
    ``batch`` windows of ``frames`` frames (default the config's) at ``height x width``."""
    c = config
    t = c.frames if frames is None else frames
    bt = batch * t
    d, p, w = c.dim, c.patch, c.window
    rows, cols = math.ceil(height / p), math.ceil(width / p)
    tokens = bt * rows * cols
    hidden = int(d * c.mlp_ratio)
    flops = 2 * tokens * c.in_channels * p * p * d  # patch embedding
    flops += 2 * batch * (128 * d + d * d) + 2 * batch * (c.global_in * d + d * d)  # time (128 features) and global MLPs
    windows = math.ceil(rows / w) * math.ceil(cols / w)
    for _ in range(c.depth):
        flops += 2 * bt * d * 9 * d  # adaLN modulation
        flops += 2 * tokens * d * 3 * d  # space qkv (real tokens; gathered into window slots after)
        flops += 4 * bt * windows * (w * w) ** 2 * d  # window scores and weighted sums
        flops += 2 * tokens * d * d  # space projection
        flops += 2 * tokens * d * 3 * d + 4 * batch * rows * cols * t * t * d + 2 * tokens * d * d  # time attention
        flops += 2 * tokens * d * hidden * 2  # MLP
    if c.frame_summary:
        flops += 2 * bt * d * d * c.depth  # depth - 1 blocks' and the final layer's maps (not the token means)
    q = c.out_patch  # the tents' blend is not counted
    flops += 2 * bt * d * 2 * d + 2 * tokens * d * q * q * c.out_channels  # final layer
    ph, k = c.pixel_hidden, c.token_features
    flops += 2 * tokens * d * k  # token features for the pixel head (their interpolation is not counted)
    flops += 2 * bt * height * width * ((c.in_channels + k) * ph + ph * ph + ph * c.out_channels)  # per-pixel head
    flops += 2 * batch * c.global_in * ph  # its first layer's global share, once per clip
    return int(flops)


def sample_flops(config, height: int, width: int, batch: int, steps: int) -> int:
    """FLOPs of drawing ``batch`` windows with ``steps`` sampler steps (one forward pass per step)."""
    return steps * forward_flops(config, height, width, batch)


def train_flops(config, height: int, width: int, batch: int) -> int:
    """FLOPs of one training step on ``batch`` windows (forward + backward ≈ 3 forwards)."""
    return 3 * forward_flops(config, height, width, batch)
