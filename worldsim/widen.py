"""Starting a model from a checkpoint of a narrower architecture (``train --init``).

New inputs get zero weights and new blocks closed gates, so the widened model first computes exactly
what its source did; new output layers start fresh; a patch head becomes a tent head. See
:func:`widen_from`.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from worldsim.model import DiTConfig, WorldDiT

# DiTConfig fields whose widening adds only zeros (input columns, closed summary maps) and no randomly
# started parameter: a model widened in them is its source exactly and deterministically, so two
# checkpoints differing only in these can be averaged (worldsim.average) after widening the narrower.
ZERO_WIDENINGS = ("pbr_channels", "frame_summary")


def widen_from(model: WorldDiT, state: dict[str, torch.Tensor], source: DiTConfig) -> set[str]:
    """Start ``model`` from the weights of a model with fewer inputs (``source``: the raster look, a
    Cycles look with fewer pbr channels, or one without token features), giving the new inputs
    (appended last) zero weights: before any training it computes exactly what the source computes,
    and fine-tuning only has to learn what the new inputs change. A new token head keeps its random
    start, so its zero-weighted features still carry gradient. A model whose outputs mean something
    else (``output``) takes everything but the two output layers, which keep their fresh start (for
    ``shading``: the albedo under unit gain): the trunk's features carry over, its colours do not.
    A patch head becomes a tent head (``head_blend``) through :func:`tent_from_patch`. A deeper model
    (``depth``) takes the source's blocks as its first ones; the blocks after them keep their fresh
    adaLN-Zero start, whose gates are 0, so each passes its tokens through unchanged until trained.
    Frame summaries (``frame_summary``, new or those of new blocks) keep their zero start, so they
    add nothing until trained.

    Returns:
        The names of the model's parameters that kept their fresh start (new blocks, new output
        layers): what ``train --new-lr`` trains at its own rate. A parameter that took the source's
        weights with zero-padded inputs counts as taken.

    Raises:
        ValueError: the two configs differ in anything but ``pbr``, ``pbr_channels``,
            ``token_features``, ``output``, ``head_blend``, ``depth`` and ``frame_summary``, the source has token
            features and they differ, the source has a tent head and the model a patch head, the
            source is deeper than the model, or the source has frame summaries and the model none.
    """
    cfg = model.config
    free = ("pbr", "pbr_channels", "resolution", "token_features", "output", "head_blend", "depth", "frame_summary")
    fresh = set() if source.output == cfg.output else {"final.linear.weight", "final.linear.bias",
                                                        f"pixel_head.{len(model.pixel_head) - 1}.weight",
                                                        f"pixel_head.{len(model.pixel_head) - 1}.bias"}
    if {k: v for k, v in asdict(source).items() if k not in free} != {k: v for k, v in asdict(cfg).items() if k not in free}:
        raise ValueError("can only widen a model of the same architecture (preset, context frames)")
    if source.depth > cfg.depth:
        raise ValueError(f"cannot drop blocks: the source has {source.depth}, the model {cfg.depth}")
    if source.frame_summary and not cfg.frame_summary:
        raise ValueError("cannot drop the source's frame summaries")
    if source.token_features not in (0, cfg.token_features):
        raise ValueError(f"cannot change token features from {source.token_features} to {cfg.token_features}")
    p, c_old, c_new, g_old = cfg.patch, source.in_channels, cfg.in_channels, source.global_in
    own = model.state_dict()
    for name, value in state.items():
        if name in fresh:
            continue
        target = own[name]
        if name == "patch_embed.weight" and value.shape != target.shape:  # (D, p*p*C): pad C per pixel
            value = torch.cat([value.reshape(-1, p * p, c_old), value.new_zeros(value.shape[0], p * p, c_new - c_old)],
                              dim=2).reshape(target.shape)
        elif name == "pixel_head.0.weight" and value.shape != target.shape:  # columns: [pixels, global, token features]
            out = value.new_zeros(target.shape)
            out[:, :c_old] = value[:, :c_old]
            out[:, c_new:c_new + g_old] = value[:, c_old:c_old + g_old]
            tokens = c_new + cfg.global_in
            out[:, tokens:tokens + source.token_features] = value[:, c_old + g_old:]
            value = out
        elif name.startswith("final.linear.") and value.shape != target.shape and cfg.head_blend == "tent":
            value = tent_from_patch(value, p, cfg.out_channels)
        elif name == "g_embed.0.weight" and value.shape != target.shape:
            value = torch.cat([value, value.new_zeros(value.shape[0], target.shape[1] - value.shape[1])], dim=1)
        if value.shape != target.shape:
            raise ValueError(f"cannot widen {name}: {tuple(value.shape)} -> {tuple(target.shape)}")
        own[name] = value
    model.load_state_dict(own)
    return {name for name, _ in model.named_parameters()} - (state.keys() - fresh)  # every other source tensor was taken


def tent_from_patch(value: torch.Tensor, patch: int, channels: int) -> torch.Tensor:
    """A patch head's output weights or bias (rows: p × p × C) as a tent head's (2p × 2p × C): its own
    patch in the middle, extended outwards by its edge pixels. A token then draws what it drew before
    around its centre, and blends into its neighbours' edges towards theirs."""
    grid = value.reshape(patch, patch, channels, *value.shape[1:])
    nearest = (torch.arange(2 * patch) - patch // 2).clamp(0, patch - 1)
    return grid[nearest][:, nearest].reshape(4 * patch * patch * channels, *value.shape[1:])
