"""Training the renderer: EMA, warmup + cosine schedule, sample grids, validation, atomic
checkpoints and exact resume; runs unchanged under ``torchrun`` (DDP, gloo on CPU, nccl on GPU).

Exact resume: every random draw of step ``s`` comes from generators seeded by ``(seed, s, rank)``,
and the checkpoint holds raw weights, EMA weights and optimizer moments, so a run killed after a
checkpoint and resumed computes the same steps as one that was never killed. The options live in
:mod:`worldsim.train_config` (:class:`TrainConfig` is importable from here too).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from worldsim import flow
from worldsim.checkpoint import load_meta, load_tensors, save_model, save_tensors
from worldsim.conditioning.tensors import MIRROR_START, build_conditions, context_to_model, frames_to_model, model_to_frames
from worldsim.dataset import SHARD_KEYS, load_dataset
from worldsim.derived import MIRROR, mirror_array
from worldsim.errors import ConfigError, DataError
from worldsim.io import write_png
from worldsim.metrics import psnr
from worldsim.model import build_model
from worldsim.render import autocast, resolve_device, resolve_precision
from worldsim.train_config import OPEN_ARCHITECTURE, TrainConfig
from worldsim.windows import DeviceWindows, plan_windows, take_arrays


def sample_windows(arrays: dict[str, np.ndarray], clips: np.ndarray, batch: int, frames: int,
                   rng: np.random.Generator, context_prob: float, context_frames: int = 1,
                   size: int | None = None) -> dict[str, np.ndarray]:
    """A batch of random ``frames``-long windows; the ``context_frames`` frames before each window
    are its context (``(B,K,H,W,3)``; before the clip's start the first frame is repeated). With
    ``size``, each window is a random ``size x size`` crop (the same crop for all its frames)."""
    plan = plan_windows(rng, clips, arrays["rgb"].shape[1], arrays["rgb"].shape[2:4], batch, frames, context_prob,
                        context_frames, size)
    return take_arrays(arrays, plan)


def to_inputs(batch: dict[str, np.ndarray], device: torch.device,
              rng: np.random.Generator | torch.Generator | None = None, rows: tuple[slice, int] | None = None,
              pbr: bool = True, pbr_channels: int | None = None):
    """(data, conditions) tensors for a batch of windows.

    With ``rng``, context frames get Gaussian noise of a random strength in [0, 0.1] (the noise
    augmentation of DIAMOND and GameNGen), so at render time the model tolerates its own errors.
    ``rows = (slice, global_batch)`` says ``batch`` is that slice of a global batch: the noise is
    drawn for the global batch and sliced, so it does not depend on how the batch is split. A
    ``torch.Generator`` (of the device the batch's tensors are on) draws it there instead. ``pbr``
    False leaves out the Cycles look's conditions (a raster-look model trained on a Cycles dataset);
    ``pbr_channels`` says how many of them the model reads (:func:`build_conditions`).
    """
    cond = build_conditions(batch, pbr=pbr, pbr_channels=pbr_channels)
    ctx = context_to_model(batch["context"])
    take, total = rows if rows is not None else (slice(None), ctx.shape[0])
    if isinstance(rng, torch.Generator):  # tensors on the device: draw there
        std = torch.rand((total, 1, 1, 1), generator=rng, device=ctx.device)[take] * 0.1
        ctx = ctx + torch.randn((total, *ctx.shape[1:]), generator=rng, device=ctx.device)[take] * std
    elif rng is not None:
        std = rng.uniform(0.0, 0.1, size=(total, 1, 1, 1)).astype(np.float32)[take]
        noise = rng.normal(size=(total, *ctx.shape[1:])).astype(np.float32)[take]
        ctx = ctx + torch.from_numpy(noise * std)
    cond.context = ctx
    has = batch["has_context"]
    cond.has_context = has.float() if isinstance(has, torch.Tensor) else torch.from_numpy(has)
    return frames_to_model(batch["rgb"]).to(device), cond.to(device)


def _mean_starts(noise: torch.Tensor, t: torch.Tensor, fraction: float,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``noise`` and flow times ``t`` of a global batch with each window, with probability ``fraction``,
    moved to time 0 and zero noise (see ``TrainConfig.mean_start``)."""
    pick = torch.rand(t.shape[0], generator=generator) < fraction
    t = torch.where(pick, torch.zeros_like(t), t)
    noise = noise * (~pick).to(noise.device, noise.dtype).view(-1, *([1] * (noise.dim() - 1)))
    return noise, t


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to 10 % of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = opt.state_dict()
    tensors = {f"opt.{i}.{k}": v for i, s in state["state"].items() for k, v in s.items() if torch.is_tensor(v)}
    return tensors, {"param_groups": state["param_groups"]}


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: dict) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": groups["param_groups"]})


class Trainer:
    """One training run (one process, or one rank of a DDP job)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.device = resolve_device(cfg.device)
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            if cfg.batch % self.world:
                raise ValueError(f"--batch {cfg.batch} (the global batch) must divide by the {self.world} DDP ranks")
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        self.precision = resolve_precision(cfg.precision, self.device)
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        arrays = self._load_data(cfg)
        sizes = {k: getattr(cfg, k) for k in OPEN_ARCHITECTURE if getattr(cfg, k) is not None}
        self.model = build_model(cfg.preset, use_physics=cfg.physics, resolution=cfg.crop or arrays["rgb"].shape[2],
                                 context_frames=cfg.context_frames, pbr=cfg.pbr, **sizes).to(self.device)
        # the value the preset gave is saved with the run, so a resume rebuilds this model even if presets change
        self.cfg = cfg = replace(cfg, **{k: getattr(self.model.config, k) for k in OPEN_ARCHITECTURE})
        fresh = self._initialise(cfg.init) if cfg.init is not None else set()
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.arrays = {k: arrays[k] for k in SHARD_KEYS}
        if self.model.config.pbr and self.model.config.pbr_channels > MIRROR_START:
            self.arrays[MIRROR] = self._mirror(arrays, cfg)
        on_device = cfg.data_on_device == "on" or (cfg.data_on_device == "auto" and self.device.type == "cuda")
        self.windows = DeviceWindows(self.arrays, self.device) if on_device else None
        n = arrays["rgb"].shape[0]
        val = min(cfg.val_clips, max(1, n // 10))
        self.train_clips, self.val_clips = np.arange(n - val), np.arange(n - val, n)
        self.opt = torch.optim.AdamW([{"params": g} for g in self._param_groups(fresh)], lr=cfg.lr, weight_decay=0.0)
        self.step = 0
        self.out = Path(cfg.out)
        self.net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _initialise(self, name_or_path: str) -> set[str]:
        """Start from a trained checkpoint of the same preset (e.g. fine-tune the Cycles look from ``raster``);
        returns the names of the parameters it did not supply."""
        from worldsim.checkpoint import load_model
        from worldsim.widen import widen_from

        source, _ = load_model(name_or_path, "cpu")
        try:
            return widen_from(self.model, source.state_dict(), source.config)
        except ValueError as exc:
            raise DataError(f"--init {name_or_path}: {exc} (use --preset matching it)") from None

    def _param_groups(self, fresh: set[str]) -> list[list[torch.nn.Parameter]]:
        """The optimizer's parameter groups: every parameter, or with ``new_lr`` the ones ``init`` supplied
        and then the ``fresh`` ones (their factors on the schedule's rate: :meth:`_lr_scales`)."""
        named = list(self.model.named_parameters())
        if self.cfg.new_lr is None:
            return [[p for _, p in named]]
        if not fresh:
            raise ConfigError(f"new_lr: --init {self.cfg.init} supplies every parameter of this model, so none is new "
                              f"(new ones come with a larger --depth, --token-features or another --output)")
        return [[p for n, p in named if n not in fresh], [p for n, p in named if n in fresh]]

    def _lr_scales(self) -> tuple[float, ...]:
        """Each parameter group's factor on the schedule's rate, from the config (not saved with the
        optimizer, so a resumed run takes this run's ``new_lr``)."""
        return (1.0,) if self.cfg.new_lr is None else (1.0, self.cfg.new_lr / self.cfg.lr)

    def check_ranks_in_sync(self) -> list[float]:
        """Every rank's parameter checksum (a collective: all ranks call it); raises if they differ."""
        import torch.distributed as dist

        total = torch.stack([p.detach().double().sum() for p in self.model.parameters()]).sum().reshape(1).to(self.device)
        gathered = [torch.zeros_like(total) for _ in range(self.world)]
        dist.all_gather(gathered, total)
        sums = [float(g.item()) for g in gathered]
        if any(x != sums[0] for x in sums):
            raise RuntimeError(f"DDP ranks diverged at step {self.step}: parameter checksums {sums}")
        return sums

    def _agreed(self, *flags: bool) -> tuple[bool, ...]:
        """Rank 0's value of each flag on every rank, in one collective (a no-op in one process):
        decisions that start collectives (saving checksums) or end the loop must be the same everywhere."""
        if self.world == 1:
            return flags
        import torch.distributed as dist

        values = torch.tensor([float(f) for f in flags], device=self.device)
        dist.broadcast(values, 0)
        return tuple(bool(v) for v in values.tolist())

    # --- checkpoints -------------------------------------------------------------------------
    def save(self, metrics: dict | None = None) -> None:
        """Atomically write the inference checkpoint (EMA) and the full training state."""
        if self.rank != 0:
            return
        meta = {"data": str(self.cfg.data), "steps": self.step, "train": asdict(self.cfg), "metrics": metrics or {},
                "clips": int(self.arrays["rgb"].shape[0]), "frames_per_clip": int(self.arrays["rgb"].shape[1])}
        if self.cfg.context_prob == 0:  # it trained on no context frame, so it renders without its own fed back
            meta["sampling_feedback"] = False
        opt_tensors, groups = _optimizer_tensors(self.opt)
        tensors = {**{f"model.{k}": v for k, v in self.model.state_dict().items()},
                   **{f"ema.{k}": v for k, v in self.ema.state_dict().items()}, **opt_tensors}
        save_tensors(self.out / "train_state.safetensors", tensors, {"step": self.step, **groups, "config": asdict(self.cfg)})
        save_model(self.out / "checkpoint.safetensors", self.ema, meta)

    def _load_data(self, cfg: TrainConfig) -> dict[str, np.ndarray]:
        """The dataset, in RAM or memory-mapped."""
        return self._cache_first(lambda progress: load_dataset(cfg.data, cache=cfg.data_cache, progress=progress))

    def _mirror(self, arrays: dict[str, np.ndarray], cfg: TrainConfig) -> np.ndarray:
        """What each pixel mirrors (:mod:`worldsim.derived`), worked out on whole frames before any crop."""
        return self._cache_first(lambda progress: mirror_array(arrays, cfg.data_cache, progress=progress))

    def _cache_first(self, load):
        """``load(progress)``, the bar shown by rank 0 alone; under DDP with a data cache, rank 0 brings
        the cache up to date before the other ranks map it, so no two processes write its files."""
        if self.cfg.data_cache is None or self.world == 1:
            return load(self.rank == 0)  # without a cache every rank loads for itself, one bar is enough
        import torch.distributed as dist

        value = load(True) if self.rank == 0 else None
        dist.barrier()
        return value if value is not None else load(False)

    def resume(self) -> bool:
        """Load the training state from ``out`` if there is one; returns whether it did."""
        path = self.out / "train_state.safetensors"
        if not path.exists():
            return False
        tensors, meta = load_tensors(path)
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        self.ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        try:
            _load_optimizer(self.opt, tensors, meta)
        except ValueError as exc:  # torch: a different number or size of parameter groups
            raise DataError(f"{path}: its optimizer does not fit this run ({exc}); resume with the --init and "
                            f"--new-lr it started with") from None
        self.step = int(meta["step"])
        return True

    # --- one step ------------------------------------------------------------------------------
    def _rows(self) -> slice:
        """This rank's rows of the global batch."""
        per = self.cfg.batch // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def _draw(self, step: int):
        """This rank's inputs of ``step``: (data, conditions, flow noise, flow times).

        Every rank draws the whole global batch (windows, context noise, flow noise and times) from
        generators seeded by ``(seed, step)`` and keeps its own rows, so DDP's gradient average
        equals the single-process gradient of the same global batch. A function of ``step`` alone,
        so a resumed run computes exactly the steps of an uninterrupted one.
        With the data on the device (:class:`~worldsim.windows.DeviceWindows`), windows are gathered
        and noise drawn there, from generators of that device.
        """
        cfg, model_cfg = self.cfg, self.model.config
        rgb = self.arrays["rgb"]
        plan = plan_windows(np.random.default_rng([cfg.seed, step]), self.train_clips, rgb.shape[1], rgb.shape[2:4],
                            cfg.batch, model_cfg.frames, cfg.context_prob, model_cfg.context_frames, cfg.crop,
                            cfg.colour_permutation, cfg.light_gain, cfg.downscale, tuple(cfg.downscale_factors))
        rows = self._rows()
        seed = cfg.seed * 1_000_003 + step * 97
        if self.windows is None:
            batch = take_arrays(self.arrays, plan)
            gen = torch.Generator().manual_seed(seed)
            noise = torch.randn((cfg.batch, model_cfg.frames, 3, *batch["rgb"].shape[2:4]), generator=gen)
            t = flow.sample_times(cfg.batch, gen)
            context_rng = np.random.default_rng([cfg.seed, step, 1])
            device = torch.device("cpu")
        else:
            batch = self.windows.take(plan)
            gen = torch.Generator(self.device).manual_seed(seed)
            noise = torch.randn((cfg.batch, model_cfg.frames, 3, *batch["rgb"].shape[2:4]), generator=gen,
                                device=self.device)
            t = flow.sample_times(cfg.batch, torch.Generator().manual_seed(seed))
            context_rng = torch.Generator(self.device).manual_seed(seed + 1)
            device = self.device
        if cfg.mean_start:
            noise, t = _mean_starts(noise, t, cfg.mean_start, torch.Generator().manual_seed(seed + 2))
        batch = {k: v[rows] for k, v in batch.items()}
        data, cond = to_inputs(batch, device, rng=context_rng, rows=(rows, cfg.batch), pbr=model_cfg.pbr,
                               pbr_channels=model_cfg.pbr_channels)
        return data, cond, noise[rows], t[rows]

    def train_step(self) -> float:
        """One optimizer step on this rank's slice of the global batch; returns the slice's loss."""
        data, cond, noise, t = self._draw(self.step)
        data, cond = data.to(self.device, non_blocking=True), cond.to(self.device)
        for group, scale in zip(self.opt.param_groups, self._lr_scales(), strict=True):
            group["lr"] = lr_at(self.step, self.cfg) * scale
        with autocast(self.device, self.precision):
            value = flow.loss(self.net, data, cond, noise=noise, t=t, weighting=self.cfg.loss_weighting,
                              clipped=self.cfg.clipped_loss, ripple=self.cfg.ripple_weight)
        self.opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        decay = min(self.cfg.ema, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        self.step += 1
        return float(value.detach())

    @torch.no_grad()
    def validate(self, steps: int = 2) -> tuple[dict, np.ndarray]:
        """PSNR of EMA samples on held-out windows (fixed seed), and a grid: reference | model | albedo."""
        rng = np.random.default_rng([self.cfg.seed, 10**9])
        context_prob = 0.0 if self.ema.config.use_physics else 1.0  # the pure-video model cannot start from nothing
        batch = sample_windows(self.arrays, self.val_clips, min(8, len(self.val_clips) * 4), self.ema.config.frames, rng,
                               context_prob, self.ema.config.context_frames)
        data, cond = to_inputs(batch, self.device, pbr=self.ema.config.pbr, pbr_channels=self.ema.config.pbr_channels)
        noise = torch.randn(data.shape, generator=torch.Generator().manual_seed(0)).to(self.device)
        out = model_to_frames(flow.sample(self.ema, noise, cond, steps=steps))
        # what the shipped checkpoints render: one step from the noise's mean (temperature 0)
        mean_start = model_to_frames(flow.sample(self.ema, torch.zeros_like(noise), cond, steps=1))
        ref = batch["rgb"]
        grid = np.concatenate([np.concatenate(list(x[:, 0]), axis=1) for x in (ref, out, batch["albedo"])], axis=0)
        return {"val_psnr": psnr(out, ref), "val_psnr_mean_start": psnr(mean_start, ref),
                "albedo_psnr": psnr(batch["albedo"], ref)}, grid

    def fit(self, progress: bool = True) -> dict:
        """Train to ``cfg.steps`` (or for ``cfg.max_minutes``); returns the last validation metrics."""
        from worldsim.progress import progress_bar

        self.out.mkdir(parents=True, exist_ok=True)
        log = self.out / "metrics.jsonl"
        metrics: dict = {}
        bar = progress_bar(total=self.cfg.steps, initial=self.step, unit="step", desc=f"train ({self.precision})",
                           disable=not progress or bool(self.rank))
        start, done, losses = time.perf_counter(), 0, []
        saved = time.monotonic()
        deadline = None if self.cfg.max_minutes is None else saved + 60 * self.cfg.max_minutes
        while self.step < self.cfg.steps:
            losses.append(self.train_step())
            done += 1
            bar.update(1)
            past = deadline is not None and time.monotonic() > deadline
            due = time.monotonic() - saved > 60 * self.cfg.checkpoint_minutes
            past, due = self._agreed(past, due)
            last = self.step == self.cfg.steps or past
            if self.step % self.cfg.log_every == 0 or last:
                rate = done * self.cfg.batch * self.model.config.frames / (time.perf_counter() - start)
                record = {"step": self.step, "loss": float(np.mean(losses)), "lr": lr_at(self.step - 1, self.cfg),
                          "frames_per_s": rate}
                losses = []
                bar.set_postfix(loss=f"{record['loss']:.4f}", fps=f"{rate:.1f}")
                if self.step % self.cfg.sample_every == 0 or last:
                    metrics, grid = self.validate()
                    record.update(metrics)
                    if self.rank == 0:
                        write_png(self.out / f"samples_{self.step:06d}.png", grid)
                if self.rank == 0:
                    with open(log, "a") as fh:
                        fh.write(json.dumps(record) + "\n")
            if due or last or self.step % self.cfg.checkpoint_every == 0:
                saved = time.monotonic()
                if self.world > 1:
                    metrics = {**metrics, "ddp_param_checksums": self.check_ranks_in_sync()}
                self.save(metrics)
            if last:
                break
        bar.close()
        return metrics


def _as_saved(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the model sizes of the run it resumes, when it resumes one and leaves them open: a
    run saved before token features (or the choice of output, or of head blend) existed has none
    (predicts rgb through patches)."""
    state = Path(cfg.out) / "train_state.safetensors"
    if not state.exists():
        return cfg
    saved = load_meta(state).get("config", {})
    return replace(cfg, **{k: saved.get(k) or before for k, before in OPEN_ARCHITECTURE.items() if getattr(cfg, k) is None})


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> dict:
    """Run training; with ``resume`` continue from ``cfg.out`` if it holds a training state."""
    if resume:
        cfg = _as_saved(cfg)
    trainer = Trainer(cfg)
    if resume and trainer.resume() and trainer.rank == 0:
        print(f"resumed from step {trainer.step}")
    elif not resume and (Path(cfg.out) / "train_state.safetensors").exists():
        raise DataError(f"{cfg.out} already holds a run; pass --resume to continue it or choose another --out")
    try:
        return trainer.fit(progress)
    finally:
        if trainer.world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                # Every rank reaches this point before any tears gloo down: one CI run saw rank 1 abort
                # ("terminate called without an active exception") when its peer left first.
                dist.barrier()
                dist.destroy_process_group()
