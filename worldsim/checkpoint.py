"""Checkpoints: safetensors weights plus a JSON config; nothing is ever unpickled.

A model checkpoint is ``NAME.safetensors`` (weights) beside ``NAME.json`` (the model config that
rebuilds it, plus what it was trained on, steps and metrics). Training state for exact resume adds
``train_state.safetensors`` (raw weights, EMA weights, optimizer moments) and ``train_state.json``.
Every file is written to a temporary name and renamed, so a kill never leaves half a checkpoint.
The JSON is also embedded in the safetensors header, with a write id the sidecar repeats: two
files cannot be renamed as one, so a kill between the two renames leaves new weights beside the
previous JSON, and the loader then takes the JSON the weights were written with.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import torch

from worldsim.errors import DataError
from worldsim.io import atomic_path, write_atomic

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "cycles.safetensors"  # the path-traced look
DEFAULT_SAMPLING_STEPS = 4  # for a checkpoint whose JSON names no sampling_steps
DEFAULT_SAMPLING_TEMPERATURE = 1.0  # ... and no sampling_temperature: unit Gaussian starting noise
DEFAULT_SAMPLING_FEEDBACK = True  # ... and no sampling_feedback: each window sees the model's frame before it
MAX_TEMPERATURE = 2.0
NAMED_CHECKPOINTS = {"default": DEFAULT_CHECKPOINT, "cycles": DEFAULT_CHECKPOINT,
                     "raster": CHECKPOINT_DIR / "raster.safetensors",  # TinyRenderer's look (the envs' 64² observations)
                     "pure_video": CHECKPOINT_DIR / "pure_video.safetensors"}  # the drift experiment's baseline


EMBEDDED_KEY = "worldsim.meta"  # the safetensors header's copy of the sidecar
WRITE_ID_KEY = "write_id"  # in both copies: equal when the sidecar belongs to these weights


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``path`` (.safetensors, ``meta`` embedded) and its ``.json`` sidecar, each atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**meta, WRITE_ID_KEY: uuid.uuid4().hex}
    tmp = atomic_path(path)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
              metadata={EMBEDDED_KEY: json.dumps(meta)})
    os.replace(tmp, path)
    write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=2))


def _embedded_meta(path: Path) -> dict[str, Any] | None:
    """The JSON written into ``path``'s header by :func:`save_tensors`; None for files from before it."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        text = (fh.metadata() or {}).get(EMBEDDED_KEY)
    return None if text is None else json.loads(text)


def _sidecar_meta(sidecar: Path, embedded: dict[str, Any] | None) -> dict[str, Any]:
    """The sidecar's JSON, unless it is missing or stale (another write id) and the weights carry their own.

    A sidecar without a write id is taken as written: a person may write or edit one by hand.
    """
    if not sidecar.is_file():
        if embedded is None:
            raise DataError(f"{sidecar}: file not found")
        return embedded
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if embedded is None:
            raise DataError(f"{sidecar}: not valid JSON ({exc})") from None
        return embedded
    if embedded is not None and meta.get(WRITE_ID_KEY, embedded[WRITE_ID_KEY]) != embedded[WRITE_ID_KEY]:
        return embedded  # a kill fell between the two renames: these weights were written with this JSON
    return meta


def _looks_pickled(path: Path) -> bool:
    """True for a torch.save file (a pickle starts with 0x80, a zip archive with "PK").

    A safetensors file starts with its JSON header's length (8 bytes, little-endian) and then ``{``;
    that length's first byte may itself be 0x80, so the header is recognised before the magic bytes
    are looked at (a 3,000-step checkpoint was once refused as a pickle for that reason).
    """
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < path.stat().st_size:
        return False
    return head[:1] == b"\x80" or head[:2] == b"PK"


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file and its JSON sidecar (or the JSON embedded in it, when the sidecar is stale).

    Raises:
        DataError: a missing, truncated, corrupt or pickled file, naming it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if _looks_pickled(path):
        raise DataError(f"{path}: looks like a pickled torch file; worldsim only loads safetensors (never unpickles)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DataError(f"{path}: corrupt or truncated safetensors file ({exc})") from None
    return tensors, load_meta(path)


def load_meta(path: str | Path) -> dict[str, Any]:
    """The JSON that belongs to the safetensors file ``path``, without reading its tensors.

    Raises:
        DataError: a missing or corrupt file, naming it.
    """
    from safetensors import SafetensorError

    path = Path(path)
    try:
        embedded = _embedded_meta(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DataError(f"{path}: corrupt or truncated safetensors file ({exc})") from None
    meta = _sidecar_meta(path.with_suffix(".json"), embedded)
    return {k: v for k, v in meta.items() if k != WRITE_ID_KEY}


def save_model(path: str | Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Save a model's weights and ``{"model": config, **meta}``."""
    save_tensors(path, model.state_dict(), {"model": model.config_dict(), **meta})


def resolve_checkpoint(name_or_path: str | Path | None) -> Path:
    """A checkpoint path from a path or a shipped name (``default`` = ``cycles``, ``raster``, ``pure_video``)."""
    if name_or_path is None:
        return DEFAULT_CHECKPOINT
    if str(name_or_path) in NAMED_CHECKPOINTS:
        return NAMED_CHECKPOINTS[str(name_or_path)]
    return Path(name_or_path)


def load_model(name_or_path: str | Path | None = None, device: str | torch.device = "cpu"):
    """Rebuild a WorldDiT from a checkpoint; returns ``(model, meta)`` with the model in eval mode."""
    from worldsim.model import DiTConfig, WorldDiT

    path = resolve_checkpoint(name_or_path)
    tensors, meta = load_tensors(path)
    try:
        model = WorldDiT(DiTConfig.from_dict(meta["model"]))
        model.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"{path}: weights do not match the config in {path.with_suffix('.json')} ({exc})") from None
    _check_sampling(meta, path.with_suffix(".json"))
    return model.to(device).eval(), meta


def _check_sampling(meta: dict, json_path: Path) -> None:
    steps = meta.get("sampling_steps", DEFAULT_SAMPLING_STEPS)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise DataError(f"{json_path}: sampling_steps must be a positive integer, got {steps!r}")
    temperature = meta.get("sampling_temperature", DEFAULT_SAMPLING_TEMPERATURE)
    if not valid_temperature(temperature):
        raise DataError(f"{json_path}: sampling_temperature must be a number from 0 to {MAX_TEMPERATURE:g}, "
                        f"got {temperature!r}")
    feedback = meta.get("sampling_feedback", DEFAULT_SAMPLING_FEEDBACK)
    if not isinstance(feedback, bool):
        raise DataError(f"{json_path}: sampling_feedback must be true or false, got {feedback!r}")


def valid_temperature(value) -> bool:
    """Whether ``value`` is a sampling temperature: a number (not a bool) from 0 to :data:`MAX_TEMPERATURE`."""
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= MAX_TEMPERATURE


def sampling_steps(meta: dict) -> int:
    """The sampler steps a checkpoint renders with by default: ``sampling_steps`` in its JSON (the
    count its evaluation chose), else :data:`DEFAULT_SAMPLING_STEPS`."""
    return int(meta.get("sampling_steps", DEFAULT_SAMPLING_STEPS))


def sampling_temperature(meta: dict) -> float:
    """The scale of a checkpoint's starting noise by default: ``sampling_temperature`` in its JSON,
    else :data:`DEFAULT_SAMPLING_TEMPERATURE` (see :class:`worldsim.render.Renderer`)."""
    return float(meta.get("sampling_temperature", DEFAULT_SAMPLING_TEMPERATURE))


def sampling_feedback(meta: dict) -> bool:
    """Whether a checkpoint conditions each window on its own frames before it by default:
    ``sampling_feedback`` in its JSON, else :data:`DEFAULT_SAMPLING_FEEDBACK`. A hybrid renderer
    whose evaluation scored higher without (its own frames' errors fed back cost more than the
    context gave) ships ``false``; the pure-video model, which sees nothing else, needs ``true``."""
    return bool(meta.get("sampling_feedback", DEFAULT_SAMPLING_FEEDBACK))
