"""Training windows: which clip, frames, context and crop each row of a batch takes, and taking them
from numpy arrays (CPU) or from tensors held on the training device (GPU).

On a GPU the whole dataset fits in memory as it is stored (uint8 and float16: ~1.2 MB a 256² frame),
and gathering a batch there takes microseconds, where numpy on one host thread takes about a second
for 32 crops of 128², 100× longer than the H100's training step (measured in the session of issue 17).
Both paths take the same :class:`WindowPlan` from the same draws, so they give the same windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from worldsim.augment import draw_gains, draw_orders, permute_colours, scale_light
from worldsim.conditioning import downscale
from worldsim.conditioning.arrays import CLIP_KEYS, NON_PIXEL_KEYS, cropped_intrinsics
from worldsim.conditioning.downscale import coarsen


@dataclass
class WindowPlan:
    """Per row: clip, frame indices, context frame indices, context flag and crop."""

    pick: np.ndarray  # (B,) clip index
    frames: np.ndarray  # (B, T) frame indices
    before: np.ndarray  # (B, K) context frame indices, oldest first (the first frame repeated before the start)
    has_context: np.ndarray  # (B,) float32 0/1
    top: np.ndarray | None = None  # (B,) crop offsets, or None for whole frames
    left: np.ndarray | None = None
    size: tuple[int, int] | None = None  # the crop, in stored pixels
    scale: int = 1  # the crop shown downscaled by this factor (worldsim.conditioning.downscale); the whole batch
    colours: np.ndarray | None = None  # (B, 3) colour-channel orders (worldsim.augment), or None to keep them
    gains: np.ndarray | None = None  # (B, 3) light gains (worldsim.augment), or None to keep the light


def plan_windows(rng: np.random.Generator, clips: np.ndarray, length: int, shape: tuple[int, int], batch: int,
                 frames: int, context_prob: float, context_frames: int = 1, size: int | None = None,
                 colour_permutation: float = 0.0, light_gain: float = 0.0, downscale_prob: float = 0.0,
                 downscale_factors: tuple[int, ...] = (2, 4)) -> WindowPlan:
    """Draw a batch's windows from clips of ``length`` frames of ``shape`` (H, W); with ``size``,
    each window is a random ``size x size`` crop (the same crop for all its frames). About
    ``colour_permutation`` of the windows get their colour channels permuted, and about ``light_gain``
    their light scaled per channel (:mod:`worldsim.augment`). With probability ``downscale_prob`` the
    whole batch is instead shown at a coarser scale, a factor drawn from ``downscale_factors``: crops of
    ``size * factor`` stored pixels (at most the frame) downscaled to ``size`` or less. Those draws come
    after all others (the gains, then the scale), so a plan without them draws exactly what it always did."""
    pick = clips[rng.integers(len(clips), size=batch)]
    start = rng.integers(0, length - frames + 1, size=batch)
    idx = start[:, None] + np.arange(frames)[None]
    before = np.maximum(start[:, None] - np.arange(context_frames, 0, -1)[None], 0)
    has = ((start > 0) & (rng.uniform(size=batch) < context_prob)).astype(np.float32)
    plan = WindowPlan(pick, idx, before, has)
    height, width = shape
    if size is not None and (size < height or size < width):
        plan.top = rng.integers(0, height - size + 1, size=batch)
        plan.left = rng.integers(0, width - size + 1, size=batch)
        plan.size = (min(size, height), min(size, width))
    if colour_permutation > 0:
        plan.colours = draw_orders(rng, batch, colour_permutation)
    if light_gain > 0:
        plan.gains = draw_gains(rng, batch, light_gain)
    if downscale_prob > 0 and rng.uniform() < downscale_prob:
        _coarser(plan, rng, shape, size, int(rng.choice(downscale_factors)))
    return plan


def _coarser(plan: WindowPlan, rng: np.random.Generator, shape: tuple[int, int], size: int | None, factor: int) -> None:
    """Make ``plan`` take crops ``factor`` times wider (at most the frame, a multiple of ``factor``) shown at 1/factor."""
    downscale.check_factor(factor)
    height, width = shape
    want = (height, width) if size is None else (size * factor, size * factor)
    fine = (min(want[0], height) // factor * factor, min(want[1], width) // factor * factor)
    if min(fine) == 0:
        raise ValueError(f"frames of {height}x{width} are too small to downscale by {factor}")
    batch = len(plan.pick)
    plan.top = rng.integers(0, height - fine[0] + 1, size=batch)
    plan.left = rng.integers(0, width - fine[1] + 1, size=batch)
    plan.size, plan.scale = fine, factor


def augment(batch: dict, plan: WindowPlan) -> dict:
    """The windows with the plan's colour orders, then its light gains, applied (numpy or torch)."""
    if plan.colours is not None:
        batch = permute_colours(batch, plan.colours)
    return batch if plan.gains is None else scale_light(batch, plan.gains)


def take_arrays(arrays: dict[str, np.ndarray], plan: WindowPlan) -> dict[str, np.ndarray]:
    """The planned windows from numpy arrays (leading (clips, frames) axes), plus ``context`` and ``has_context``.

    Only the planned frames and crops are read, never whole clips: from a memory-mapped dataset
    (:mod:`worldsim.memmap`) that is what comes off the disk.
    """
    out = {key: value[plan.pick] if key in CLIP_KEYS else _frames(value, plan, plan.frames, key not in NON_PIXEL_KEYS)
           for key, value in arrays.items()}
    out["context"] = _frames(arrays["rgb"], plan, plan.before, True)  # (B, K, H, W, 3)
    out["has_context"] = plan.has_context
    if plan.size is not None and "intrinsics" in out:
        out["intrinsics"] = cropped_intrinsics(out["intrinsics"], plan.top, plan.left)
    return augment(coarsen(out, plan.scale), plan)


def _frames(value: np.ndarray, plan: WindowPlan, frames: np.ndarray, pixels: bool) -> np.ndarray:
    """Each row's ``frames`` (B, n) of its clip, cropped to the plan's window when ``pixels``."""
    if plan.size is None or not pixels:
        return value[plan.pick[:, None], frames]
    h, w = plan.size
    return np.stack([value[c, f, y:y + h, x:x + w] for c, f, y, x in zip(plan.pick, frames, plan.top, plan.left,
                                                                          strict=True)])


class DeviceWindows:
    """A dataset held on ``device`` as stored (no widening), from which planned windows are gathered there."""

    def __init__(self, arrays: dict[str, np.ndarray], device: torch.device):
        self.device = device
        self.tensors = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in arrays.items()}

    def take(self, plan: WindowPlan) -> dict[str, torch.Tensor]:
        """The planned windows as tensors on the device: the same values :func:`take_arrays` gives."""
        dev = self.device
        pick = torch.from_numpy(plan.pick).to(dev)
        frames = torch.from_numpy(plan.frames).to(dev)
        before = torch.from_numpy(plan.before).to(dev)
        if plan.size is not None:
            h, w = plan.size
            rows = (torch.from_numpy(plan.top).to(dev)[:, None] + torch.arange(h, device=dev))[:, None, :, None]
            cols = (torch.from_numpy(plan.left).to(dev)[:, None] + torch.arange(w, device=dev))[:, None, None, :]

        def gather(value: torch.Tensor, idx: torch.Tensor, image: bool) -> torch.Tensor:  # idx (B, N) frames
            if plan.size is None or not image:
                return value[pick[:, None], idx]
            return value[pick[:, None, None, None], idx[:, :, None, None], rows, cols]

        out = {}
        for key, value in self.tensors.items():
            out[key] = value[pick] if key in CLIP_KEYS else gather(value, frames, image=key not in NON_PIXEL_KEYS)
        out["context"] = gather(self.tensors["rgb"], before, image=True)
        out["has_context"] = torch.from_numpy(plan.has_context).to(dev)
        if plan.size is not None:
            intr = out["intrinsics"].clone()
            intr[:, 0, 2] -= torch.from_numpy(plan.left).to(dev, intr.dtype)
            intr[:, 1, 2] -= torch.from_numpy(plan.top).to(dev, intr.dtype)
            out["intrinsics"] = intr
        return augment(coarsen(out, plan.scale), plan)
