"""Weight averaging of two checkpoints of one architecture (a fine-tune and what it started from).

A fine-tune on a narrow set of new clips moves the model towards them and away from what it drew
well before; averaging its weights with its starting point's, ``(1 - w) * A + w * B``, often keeps
most of the gain and gives back most of the loss (Wortsman et al., "Robust fine-tuning of zero-shot
models", 2022). The shipped ``cycles`` stage 18 is such an average: see the model card.
"""

from __future__ import annotations

from pathlib import Path

import torch

from worldsim.checkpoint import load_tensors, resolve_checkpoint, save_tensors
from worldsim.errors import ConfigError, DataError


def average_checkpoints(a: str | Path, b: str | Path, weight: float, out: str | Path) -> dict:
    """Write ``(1 - weight) * A + weight * B`` to ``out`` with B's JSON, recording the average; returns that JSON.

    ``a`` and ``b`` are paths or shipped names (``cycles``). Keys B's JSON lacks come from A's: a
    shipped checkpoint's sampling settings (``sampling_steps``...), which training never writes, carry
    over to the average of it and its fine-tune. Integer tensors (none in a WorldDiT today) are B's.

    Raises:
        ConfigError: ``weight`` outside 0..1.
        DataError: the two are different architectures or hold different tensors, naming both.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"weight must be from 0 to 1, got {weight}")
    path_a, path_b = resolve_checkpoint(a), resolve_checkpoint(b)
    (ta, meta_a), (tb, meta_b) = load_tensors(path_a), load_tensors(path_b)
    if meta_a.get("model") != meta_b.get("model"):
        raise DataError(f"{path_a} and {path_b} are different architectures (their JSONs' model configs differ)")
    shapes_a, shapes_b = {k: v.shape for k, v in ta.items()}, {k: v.shape for k, v in tb.items()}
    if shapes_a != shapes_b:
        odd = sorted(set(shapes_a.items()) ^ set(shapes_b.items()))[0][0]
        raise DataError(f"{path_a} and {path_b} hold different tensors ({odd})")
    mixed = {k: _mix(ta[k], tb[k], weight) for k in tb}
    meta = {**meta_a, **meta_b, "average": {"a": str(a), "b": str(b), "weight": weight}}
    save_tensors(out, mixed, meta)
    return meta


def _mix(a: torch.Tensor, b: torch.Tensor, weight: float) -> torch.Tensor:
    if not b.is_floating_point():
        return b
    return ((1.0 - weight) * a.double() + weight * b.double()).to(b.dtype)  # in float64: w = 0 or 1 is exact
