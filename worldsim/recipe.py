"""A checkpoint's training recipe as defaults of ``worldsim train`` (``--recipe CHECKPOINT``).

Every checkpoint ``worldsim train`` writes keeps its options in its JSON (``train``). The shipped
Cycles look came out of a fine-tuning loop with a dozen options (mean starts, the clipped loss,
the ripple weight, colour permutations, coarser batches, no context frames, the architecture's
shading output and tent head); a run that forgets one trains something else. ``--recipe`` takes
them from the JSON, and any option given on the command line still wins, so a GPU window (or a
user's own data) continues the default with its own batch, rate and data.

The recipe is how to train, not what on or for how long: data, output directory, steps, seed,
device, precision, ``--init`` and the logging and checkpoint cadence are the run's own. Reads only
the JSON (the GPU machine's side imports nothing beyond torch, numpy, safetensors and einops).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from worldsim.errors import ConfigError
from worldsim.train_config import TrainConfig

# TrainConfig fields a recipe carries, under the same names as worldsim train's options (dests)
RECIPE_FIELDS = ("preset", "batch", "lr", "warmup", "ema", "context_prob", "crop", "loss_weighting", "token_features",
                 "output", "head_blend", "depth", "pbr_channels", "frame_summary", "mean_start", "clipped_loss",
                 "ripple_weight", "colour_permutation", "light_gain", "downscale", "downscale_factors")


def _fits(value: Any, kind: Any) -> bool:
    """Whether a JSON value can stand for a field of type ``kind`` (``int | None``, ``tuple[int, ...]``, …)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, k) for k in args)
    if origin is tuple:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def recipe_defaults(name_or_path: str) -> dict[str, Any]:
    """``worldsim train``'s option values (by dest) from the training record of a checkpoint's JSON.

    Fields the record lacks (a checkpoint from before they existed) are left out, so they keep the
    command's defaults; ``pbr`` and ``physics`` become ``look`` and ``pure_video``.

    Args:
        name_or_path: a shipped checkpoint's name (``cycles``, …) or a ``.safetensors`` path.

    Raises:
        DataError: a missing or corrupt checkpoint.
        ConfigError: a JSON without a ``train`` record, or a field of the wrong type, naming both.
    """
    from worldsim.checkpoint import load_meta, resolve_checkpoint

    path = resolve_checkpoint(name_or_path)
    record = load_meta(path).get("train")
    json_path = path.with_suffix(".json")
    if not isinstance(record, dict):
        raise ConfigError(f"{json_path}: field 'train' missing: --recipe needs a checkpoint written by worldsim train "
                          f"(or averaged from one)")
    kinds = typing.get_type_hints(TrainConfig)
    out: dict[str, Any] = {}
    for field in (*RECIPE_FIELDS, "pbr", "physics"):
        if field not in record:
            continue
        value = record[field]
        if not _fits(value, kinds[field]):
            raise ConfigError(f"{json_path}: field 'train.{field}' is {value!r}, not a {kinds[field]}")
        out[field] = tuple(value) if isinstance(value, list) else value
    if "pbr" in out:
        out["look"] = "cycles" if out.pop("pbr") else "tiny"
    if "physics" in out:
        out["pure_video"] = not out.pop("physics")
    return out
