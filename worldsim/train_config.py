"""The options of ``worldsim train`` (:class:`TrainConfig`), checked as they are made, and which of
them pick the model's architecture (:data:`OPEN_ARCHITECTURE`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from worldsim import flow
from worldsim.conditioning import downscale
from worldsim.errors import ConfigError
from worldsim.render import PRECISIONS


@dataclass
class TrainConfig:
    """Options of ``worldsim train``."""

    data: str
    out: str
    preset: str = "small"
    steps: int = 1000
    batch: int = 8
    lr: float = 5e-4
    warmup: int = 50
    ema: float = 0.995
    seed: int = 0
    context_prob: float = 0.5
    log_every: int = 25
    checkpoint_every: int = 200
    checkpoint_minutes: float = 10.0  # also checkpoint when this long has passed since the last one
    crop: int | None = None  # train on random crop x crop windows of the frames (the model is resolution-free)
    sample_every: int = 250
    val_clips: int = 8
    device: str = "auto"
    physics: bool = True
    context_frames: int = 1
    pbr: bool = False  # the Cycles look: the dataset's pbr, area_light and environment become inputs
    init: str | None = None  # start from this checkpoint (path or name), widened if pbr adds inputs
    # The peak learning rate of the parameters `init` did not supply (new blocks, new output layers;
    # widen.widen_from), on the same schedule; None: `lr`. A fine-tune's small rate barely opens the
    # closed gates of new blocks, so a capacity test needs them faster than the trained trunk.
    new_lr: float | None = None
    data_on_device: str = "auto"  # "auto": keep the dataset on the GPU and gather batches there; "on", "off"
    # Memory-map the dataset from uncompressed copies in this directory (worldsim.memmap) instead of
    # loading it into RAM; None: RAM. The values, so the steps, are the same either way.
    data_cache: str | None = None
    max_minutes: float | None = None  # stop (with a checkpoint) after this long, even before `steps` (a GPU window)
    loss_weighting: str = "clean"  # flow.loss: "clean" (every flow time weighs the same) or "velocity"
    token_features: int | None = None  # the model's token features for the pixel head; None: the preset's
    output: str | None = None  # what the network predicts (DiTConfig.output); None: "rgb", or a resumed run's
    head_blend: str | None = None  # DiTConfig.head_blend; None: "patch", or a resumed run's
    depth: int | None = None  # transformer blocks; None: the preset's, or a resumed run's (--init grows a shallower model)
    pbr_channels: int | None = None  # Cycles-look channels read; None: all (PBR_CHANNELS), or a resumed run's
    frame_summary: bool | None = None  # DiTConfig.frame_summary; None: off, or a resumed run's (--init adds it exactly)
    # Fraction of windows drawn at flow time 0 from the noise's mean (zeros): exactly what a 1-step,
    # temperature-0 render computes, which the flow's own draws reach only through noise around it.
    mean_start: float = 0.0
    clipped_loss: bool = False  # flow.loss(clipped=True): predictions beyond a clipped (0 or 255) target are met
    # flow.loss(ripple=...): the error that repeats with the patch grid (the tent head's faint grid,
    # metrics.patch_ripple) weighs 1 + ripple_weight times; 0 leaves the plain loss.
    ripple_weight: float = 0.0
    # Fraction of training windows whose colour inputs and frames are channel-permuted together
    # (worldsim.augment: an exact symmetry of both teachers); validation windows never are.
    colour_permutation: float = 0.0
    # Fraction of training windows whose lights (sun, sky, area lights) take per-channel gains, the
    # inputs and frames following as Cycles' picture of that scene would (worldsim.augment.scale_light);
    # the Cycles look only.
    light_gain: float = 0.0
    # Fraction of training batches shown at a coarser scale (worldsim.conditioning.downscale): crops
    # `downscale_factors` times wider, downscaled, so the model sees bodies as small as a 64² or 128²
    # render shows them, not only as 128² crops of 256² frames do. A factor per batch, drawn uniformly.
    downscale: float = 0.0
    downscale_factors: tuple[int, ...] = (2, 4)
    # The matrix products' precision: "auto" is bf16 autocast where the device multiplies bf16 in
    # hardware (a GPU; a CPU with AVX512-BF16 or AMX: 1.5-1.75x faster steps here), else fp32.
    precision: str = "auto"

    def __post_init__(self) -> None:
        flow.check_weighting(self.loss_weighting)  # here, not at the first step after the data loaded
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision is one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if not 0 <= self.mean_start <= 1:
            raise ConfigError(f"mean_start is a fraction of windows, from 0 to 1; got {self.mean_start}")
        if not 0 <= self.colour_permutation <= 1:
            raise ConfigError(f"colour_permutation is a fraction of windows, from 0 to 1; got {self.colour_permutation}")
        if not 0 <= self.light_gain <= 1:
            raise ConfigError(f"light_gain is a fraction of windows, from 0 to 1; got {self.light_gain}")
        if not 0 <= self.downscale <= 1:
            raise ConfigError(f"downscale is a fraction of batches, from 0 to 1; got {self.downscale}")
        try:
            downscale.check_factors(self.downscale_factors)
        except ValueError as err:
            raise ConfigError(f"downscale_factors: {err}") from None
        if self.light_gain > 0 and not self.pbr:
            raise ConfigError("light_gain scales the path-traced look's lights (sun, sky, area lights), a symmetry of "
                              "Cycles' picture; the raster look (pbr false) was never shown to share it")
        if not 0 <= self.context_prob <= 1 or (not self.physics and self.context_prob == 0):
            raise ConfigError(f"context_prob is a fraction of windows, from 0 to 1 (above 0 for the pure-video model, "
                              f"which sees nothing else); got {self.context_prob}")
        if self.depth is not None and self.depth < 1:
            raise ConfigError(f"depth is a number of transformer blocks, at least 1; got {self.depth}")
        if self.clipped_loss and self.loss_weighting != "clean":
            raise ConfigError("clipped_loss scores the clean frame as shown; it needs loss_weighting 'clean'")
        if not 0 <= self.ripple_weight < math.inf:  # NaN fails the comparison too
            raise ConfigError(f"ripple_weight is a weight, 0 or more; got {self.ripple_weight}")
        if self.new_lr is not None and not (0 < self.new_lr < math.inf and self.init is not None):
            raise ConfigError(f"new_lr is the peak rate of the parameters init did not supply: above 0, with init; "
                              f"got {self.new_lr} with init {self.init!r}")
        if self.ripple_weight and self.loss_weighting != "clean":
            raise ConfigError("ripple_weight scores the clean frame's grid; it needs loss_weighting 'clean'")


# TrainConfig fields that pick the model's architecture, None meaning "the preset's, or a resumed run's",
# each with what a run saved before the field existed had (None: its preset's).
# pbr_channels: 12, the count before the glare channels came with the field.
OPEN_ARCHITECTURE = {"token_features": 0, "output": "rgb", "head_blend": "patch", "depth": None, "pbr_channels": 12,
                     "frame_summary": False}
