"""Weight averaging of two checkpoints of one architecture (a fine-tune and what it started from).

A fine-tune on a narrow set of new clips moves the model towards them and away from what it drew
well before; averaging its weights with its starting point's, ``(1 - w) * A + w * B``, often keeps
most of the gain and gives back most of the loss (Wortsman et al., "Robust fine-tuning of zero-shot
models", 2022). The shipped ``cycles`` checkpoint's latest stages are such averages: its JSON's
``average`` block names the two inputs (path, sha256, steps) and the model card lists which stages.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

from worldsim.checkpoint import load_model, resolve_checkpoint, save_model
from worldsim.errors import ConfigError, DataError
from worldsim.model import DiTConfig, WorldDiT
from worldsim.widen import ZERO_WIDENINGS, widen_from


def average_checkpoints(a: str | Path, b: str | Path, weight: float, out: str | Path) -> dict:
    """Write ``(1 - weight) * A + weight * B`` to ``out`` with B's JSON, recording the average (each
    input's path as given, sha256 and steps, and the weight); returns that JSON.

    ``a`` and ``b`` are paths or shipped names (``cycles``). Keys B's JSON lacks come from A's: a
    shipped checkpoint's sampling settings (``sampling_steps``...), which training never writes, carry
    over to the average of it and its fine-tune.

    Raises:
        ConfigError: ``weight`` outside 0..1.
        DataError: either checkpoint does not load, or the two are different architectures, naming both.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"weight must be from 0 to 1, got {weight}")
    (model, meta_a), (other, meta_b) = load_model(a), load_model(b)  # each checked against its own config
    if model.config != other.config:
        model = _widened(model, other.config, a, b)
    theirs = other.state_dict()
    # In float64: weight 0 or 1 gives A or B bit for bit, and the shipped averages were made with this sum.
    model.load_state_dict({k: (1.0 - weight) * v.double() + weight * theirs[k].double()
                           for k, v in model.state_dict().items()})
    meta = {k: v for k, v in {**meta_a, **meta_b}.items() if k != "model"}  # save_model writes the model's own
    meta["average"] = {"a": _identity(a, meta_a), "b": _identity(b, meta_b), "weight": weight}
    save_model(out, model, meta)
    return meta


def _identity(name_or_path: str | Path, meta: dict) -> dict:
    """What an input was, beyond the path it had on one disk: its name as given, the sha256 of its
    weights file (which a path that moves or is overwritten does not keep) and its training steps."""
    path = resolve_checkpoint(name_or_path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(name_or_path), "sha256": digest.hexdigest(), "steps": meta.get("steps")}


def _widened(model: WorldDiT, config: DiTConfig, a: str | Path, b: str | Path) -> WorldDiT:
    """``model`` (checkpoint ``a``) widened with zeros to ``config`` (checkpoint ``b``'s), which it computes exactly.

    Raises:
        DataError: the configs differ beyond ``ZERO_WIDENINGS``, or ``a`` is the wider one.
    """
    mine, theirs = asdict(model.config), asdict(config)
    differ = sorted(k for k in mine if mine[k] != theirs[k])
    if set(differ) - set(ZERO_WIDENINGS):
        raise _refused(a, b, f"their JSONs' model configs differ in {', '.join(differ)}")
    wide = WorldDiT(config)
    try:
        widen_from(wide, model.state_dict(), model.config)
    except ValueError as exc:  # A has what B lacks (A is the wider one)
        raise _refused(a, b, str(exc)) from None
    return wide


def _refused(a: str | Path, b: str | Path, reason: str) -> DataError:
    """The error naming both checkpoints and why the first cannot be widened to the second."""
    return DataError(f"{resolve_checkpoint(a)} and {resolve_checkpoint(b)} are different architectures ({reason}); "
                     f"only B may add {' or '.join(ZERO_WIDENINGS)} to A")
