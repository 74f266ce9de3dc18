"""Checkpoints: safetensors weights plus a JSON config; nothing is ever unpickled.

A model checkpoint is ``NAME.safetensors`` (weights) beside ``NAME.json`` (the model config that
rebuilds it, plus what it was trained on, steps and metrics). Training state for exact resume adds
``train_state.safetensors`` (raw weights, EMA weights, optimizer moments) and ``train_state.json``.
Every file is written to a temporary name and renamed, so a kill never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from worldsim.errors import DataError
from worldsim.io import atomic_path, write_atomic

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "cycles.safetensors"  # the path-traced look
DEFAULT_SAMPLING_STEPS = 4  # for a checkpoint whose JSON names no sampling_steps
DEFAULT_SAMPLING_TEMPERATURE = 1.0  # ... and no sampling_temperature: unit Gaussian starting noise
MAX_TEMPERATURE = 2.0
NAMED_CHECKPOINTS = {"default": DEFAULT_CHECKPOINT, "cycles": DEFAULT_CHECKPOINT,
                     "raster": CHECKPOINT_DIR / "raster.safetensors",  # TinyRenderer's look (the envs' 64² observations)
                     "pure_video": CHECKPOINT_DIR / "pure_video.safetensors"}  # the drift experiment's baseline


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar atomically (JSON last: it marks completeness)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)
    write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=2))


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
    """Read a safetensors file and its JSON sidecar.

    Raises:
        DataError: a missing, truncated, corrupt or pickled file, naming it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    sidecar = path.with_suffix(".json")
    for p in (path, sidecar):
        if not p.is_file():
            raise DataError(f"{p}: file not found")
    if _looks_pickled(path):
        raise DataError(f"{path}: looks like a pickled torch file; worldsim only loads safetensors (never unpickles)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DataError(f"{path}: corrupt or truncated safetensors file ({exc})") from None
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{sidecar}: not valid JSON ({exc})") from None
    return tensors, meta


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
